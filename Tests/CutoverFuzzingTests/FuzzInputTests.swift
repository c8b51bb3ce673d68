@testable import CutoverFuzzing
import Testing

/// The input layout every stream harness reads: option bits, split lengths, payload.
@Suite struct FuzzInputTests {
    func pieces(_ bytes: [UInt8]) -> (flags: UInt8, pieces: [[UInt8]], whole: [[UInt8]]) {
        bytes.withUnsafeBytes { raw in
            let input = FuzzInput(raw)
            return (input.flags, input.pieces.map { Array($0) }, input.whole.map { Array($0) })
        }
    }

    @Test func lengthsCutThePayloadAndTheRestIsOnePiece() {
        let cut = pieces([0x32, 0, 2] + Array("abcdefgh".utf8))
        #expect(cut.flags == 3)
        #expect(cut.pieces == [Array("a".utf8), Array("bcd".utf8), Array("efgh".utf8)])
        #expect(cut.whole == [Array("abcdefgh".utf8)])
    }

    @Test func fifteenLengthsRepeatToTheEnd() {
        let cut = pieces([0x0f] + [UInt8](repeating: 0, count: 14) + [1] + Array("abcdefghijklmnopqrstu".utf8))
        #expect(cut.pieces.count == 20)
        #expect(cut.pieces[14] == Array("op".utf8))
        #expect(cut.pieces.joined().count == 21)
    }

    @Test func shortAndEmptyInputs() {
        #expect(pieces([]).pieces.isEmpty)
        #expect(pieces([0x05, 1]).pieces.isEmpty)
        #expect(pieces([0x00, 7]).pieces == [[7]])
    }
}
