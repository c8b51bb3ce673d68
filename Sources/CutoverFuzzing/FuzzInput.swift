/// How a harness reads its input: the first byte holds four option bits and how many split
/// lengths follow, so the fuzzer mutates where a stream is cut as freely as the bytes themselves.
///
/// `[flags << 4 | n] [n lengths] payload`: piece k of the payload is `lengths[k] + 1` bytes long, the
/// rest is the last piece; with n = 15 the lengths repeat until the payload ends (many small reads).
struct FuzzInput {
    let flags: UInt8
    let payload: UnsafeRawBufferPointer
    private let lengths: [Int]
    private let cycles: Bool

    init(_ input: UnsafeRawBufferPointer) {
        guard let first = input.first else {
            flags = 0
            payload = UnsafeRawBufferPointer(rebasing: input[...])
            lengths = []
            cycles = false
            return
        }
        flags = first >> 4
        let count = min(Int(first & 0x0f), input.count - 1)
        lengths = input[1..<(1 + count)].map { Int($0) + 1 }
        cycles = first & 0x0f == 0x0f
        payload = UnsafeRawBufferPointer(rebasing: input[(1 + count)...])
    }

    /// Option bit `bit` (0...3).
    func flag(_ bit: Int) -> Bool { flags & (1 << bit) != 0 }

    /// The payload cut where the lengths say.
    var pieces: [UnsafeRawBufferPointer] {
        var out: [UnsafeRawBufferPointer] = []
        var offset = 0
        var index = 0
        while offset < payload.count {
            let length: Int
            if index < lengths.count {
                length = lengths[index]
            } else if cycles, !lengths.isEmpty {
                length = lengths[index % lengths.count]
            } else {
                length = payload.count - offset
            }
            let end = min(payload.count, offset + length)
            out.append(UnsafeRawBufferPointer(rebasing: payload[offset..<end]))
            offset = end
            index += 1
        }
        return out
    }

    /// The payload in one piece.
    var whole: [UnsafeRawBufferPointer] { payload.isEmpty ? [] : [payload] }
}
