import HTTPTypes

/// The header section of one message as it is being read: the fields plus what the framing and
/// connection-management fields said. Shared by the request and response decoders.
struct HTTP1HeadFields {
    /// Collected as a plain array: appending to `HTTPFields` one by one goes through its
    /// non-inlinable generic `replaceSubrange`.
    var fieldList: [HTTPField] = []
    var fieldCount = 0
    /// Bytes of the section so far, CRLFs included.
    var sectionBytes = 0

    var contentLength: Int?
    var transferEncodingSeen = false
    var chunkedSeen = false
    var chunkedIsFinal = false
    var otherCodingSeen = false
    var connectionClose = false
    var connectionKeepAlive = false
    var expectContinue = false
    var hostCount = 0
    var host: String?

    /// Parses and validates one field line (without its CRLF) per RFC 9112 §5 and RFC 9110 §5.
    /// With `collect` false (trailers) the line is validated and dropped.
    mutating func parseFieldLine(
        _ line: UnsafeBufferPointer<UInt8>,
        collect: Bool,
        isRequest: Bool
    ) throws(HTTP1DecodeError) {
        guard let first = line.first else { throw .badRequest("empty field line") }
        // RFC 9112 §5.2: obs-fold is rejected with 400.
        if isWhitespace(first) { throw .badRequest("obsolete line folding in header") }

        var colon = 0
        while colon < line.count, isTokenChar(line[colon]) { colon += 1 }
        guard colon < line.count else { throw .badRequest("header line without colon") }
        if line[colon] != ASCII.colon {
            // RFC 9112 §5.1: no whitespace between field name and colon.
            if isWhitespace(line[colon]) { throw .badRequest("whitespace before colon in header") }
            throw .badRequest("invalid character in header name")
        }
        guard colon > 0 else { throw .badRequest("empty header name") }

        let nameBytes = UnsafeBufferPointer(rebasing: line[0..<colon])
        let value = UnsafeBufferPointer(rebasing: line[(colon + 1)...]).trimmingWhitespace()
        var highBits: UInt8 = 0
        for byte in value {
            guard isFieldValueChar(byte) else { throw .badRequest("invalid character in header value") }
            highBits |= byte
        }
        guard collect else { return }

        let name: HTTPField.Name
        switch nameBytes.count {
        case 4 where nameBytes.equalsLowercased("host"):
            hostCount += 1
            guard isRequest else {
                guard let parsed = HTTPField.Name(String(ascii: nameBytes)) else { throw .badRequest("invalid header name") }
                name = parsed
                break
            }
            for byte in value where !isHostChar(byte) { throw .badRequest("invalid Host header") }
            host = String(ascii: value)
            // Carried as the request's authority, not repeated in headerFields.
            return
        case 6 where nameBytes.equalsLowercased("expect"):
            name = .expect
            if value.equalsLowercased("100-continue") { expectContinue = true }
        case 10 where nameBytes.equalsLowercased("connection"):
            name = .connection
            value.forEachListElement { option in
                if option.equalsLowercased("close") {
                    connectionClose = true
                } else if option.equalsLowercased("keep-alive") {
                    connectionKeepAlive = true
                }
            }
        case 14 where nameBytes.equalsLowercased("content-length"):
            name = .contentLength
            try parseContentLength(value)
        case 17 where nameBytes.equalsLowercased("transfer-encoding"):
            name = .transferEncoding
            try parseTransferEncoding(value)
        default:
            if let known = KnownFieldNames.lookup(nameBytes) {
                name = known
            } else if let parsed = HTTPField.Name(String(ascii: nameBytes)) {
                name = parsed
            } else {
                throw .badRequest("invalid header name")
            }
        }
        if fieldList.capacity == 0 { fieldList.reserveCapacity(16) }
        // ASCII values (nearly all) go through String, HTTPTypes' fastest path; values with
        // obs-text keep their raw bytes.
        if highBits < 0x80 {
            fieldList.append(HTTPField(name: name, value: String(ascii: value)))
        } else {
            fieldList.append(HTTPField(name: name, value: value))
        }
    }

    var fields: HTTPFields {
        var fields = HTTPFields()
        // Sized once, then one call: HTTPFields' element-wise append goes through replaceSubrange
        // per field, and its storage would grow by doubling.
        fields.reserveCapacity(fieldList.count)
        fields.replaceSubrange(0..<0, with: FieldListCopy(fieldList))
        return fields
    }

    /// RFC 9110 §8.6 / RFC 9112 §6.3: 1*DIGIT; a list of identical values, or repeated identical
    /// fields, is accepted as that value; anything else is invalid framing.
    private mutating func parseContentLength(_ value: UnsafeBufferPointer<UInt8>) throws(HTTP1DecodeError) {
        var sawElement = false
        try value.forEachListElement { (element) throws(HTTP1DecodeError) in
            sawElement = true
            var length = 0
            for byte in element {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                    throw .badRequest("invalid Content-Length")
                }
                let (times10, overflow1) = length.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times10.addingReportingOverflow(Int(byte &- UInt8(ascii: "0")))
                if overflow1 || overflow2 { throw .badRequest("Content-Length overflows") }
                length = sum
            }
            if let existing = contentLength, existing != length {
                throw .badRequest("conflicting Content-Length values")
            }
            contentLength = length
        }
        if !sawElement { throw .badRequest("empty Content-Length") }
    }

    /// Transfer codings are collected across all Transfer-Encoding lines. `chunked` may appear once
    /// and must be last; whether other codings are acceptable is decided by the caller.
    private mutating func parseTransferEncoding(_ value: UnsafeBufferPointer<UInt8>) throws(HTTP1DecodeError) {
        transferEncodingSeen = true
        try value.forEachListElement { (coding) throws(HTTP1DecodeError) in
            if coding.equalsLowercased("chunked") {
                // RFC 9112 §6.1: chunked must not be applied more than once.
                if chunkedSeen { throw .badRequest("chunked applied more than once") }
                chunkedSeen = true
                chunkedIsFinal = true
            } else {
                if chunkedSeen { throw .badRequest("chunked is not the final transfer coding") }
                otherCodingSeen = true
                chunkedIsFinal = false
            }
        }
    }
}

/// Decodes a chunked body (RFC 9112 §7.1) incrementally from an `InputBuffer`.
struct ChunkedBodyDecoder {
    enum Phase {
        case size
        case data(remaining: Int)
        case dataCRLF
        case trailers
    }

    var phase = Phase.size
    var trailerCount = 0
    var trailerBytes = 0
    /// Chunk data read so far, kept or not: what `limits.maxBodyBytes` bounds.
    var received = 0

    /// Consumes what it can. Returns true once the last chunk and trailer section are read. Only
    /// the first `keeping` bytes of chunk data go into `body`; the rest is read and dropped.
    mutating func decode(
        _ storage: UnsafeBufferPointer<UInt8>,
        _ buffer: inout InputBuffer,
        into body: inout [UInt8],
        limits: HTTP1Limits,
        keeping: Int = .max
    ) throws(HTTP1DecodeError) -> Bool {
        while true {
            switch phase {
            case .size:
                switch buffer.scanLine(in: storage, limit: limits.maxChunkLineLength) {
                case .incomplete: return false
                case .tooLong: throw .badRequest("chunk size line too long")
                case .bareLF: throw .badRequest("bare LF in chunk size line")
                case .line(let start, let end):
                    let size = try Self.parseChunkSize(UnsafeBufferPointer(rebasing: storage[start..<end]))
                    buffer.consumeLine(end: end)
                    if size == 0 {
                        phase = .trailers
                    } else {
                        if size > limits.maxBodyBytes - received {
                            throw .contentTooLarge("body too large")
                        }
                        phase = .data(remaining: size)
                    }
                }
            case .data(let remaining):
                let available = buffer.readableCount
                if available == 0 { return false }
                let take = min(available, remaining)
                let from = buffer.readIndex
                let kept = min(take, max(0, keeping - body.count))
                if kept > 0 { body.append(contentsOf: UnsafeBufferPointer(rebasing: storage[from..<(from + kept)])) }
                buffer.readIndex += take
                received += take
                phase = take == remaining ? .dataCRLF : .data(remaining: remaining - take)
            case .dataCRLF:
                let available = buffer.readableCount
                if available == 0 { return false }
                let index = buffer.readIndex
                guard storage[index] == ASCII.cr else { throw .badRequest("missing CRLF after chunk data") }
                if available == 1 { return false }
                guard storage[index + 1] == ASCII.lf else { throw .badRequest("missing CRLF after chunk data") }
                buffer.readIndex += 2
                phase = .size
            case .trailers:
                let budget = limits.maxHeaderBytes - trailerBytes
                switch buffer.scanLine(in: storage, limit: budget - 2) {
                case .incomplete: return false
                case .tooLong: throw .headersTooLarge("trailer section too large")
                case .bareLF: throw .badRequest("bare LF in trailer section")
                case .line(let start, let end):
                    trailerBytes += end - start + 2
                    buffer.consumeLine(end: end)
                    if start == end { return true }
                    trailerCount += 1
                    if trailerCount > limits.maxHeaderCount { throw .headersTooLarge("too many trailer fields") }
                    var discard = HTTP1HeadFields()
                    try discard.parseFieldLine(
                        UnsafeBufferPointer(rebasing: storage[start..<end]), collect: false, isRequest: false
                    )
                }
            }
        }
    }

    /// chunk-size [ chunk-ext ]: 1*HEXDIG, then optional extensions, which are checked for CTLs and
    /// otherwise ignored (their length is bounded by `maxChunkLineLength`).
    static func parseChunkSize(_ line: UnsafeBufferPointer<UInt8>) throws(HTTP1DecodeError) -> Int {
        var size = 0
        var index = 0
        while index < line.count, let digit = hexValue(line[index]) {
            if size > (Int.max >> 4) { throw .badRequest("chunk size overflows") }
            size = size << 4 | digit
            index += 1
        }
        guard index > 0 else { throw .badRequest("invalid chunk size") }
        if index < line.count {
            // BWS then ";" (RFC 9112 §7.1.1).
            var rest = index
            while rest < line.count, isWhitespace(line[rest]) { rest += 1 }
            guard rest < line.count, line[rest] == ASCII.semicolon else { throw .badRequest("invalid chunk size") }
            for byte in UnsafeBufferPointer(rebasing: line[rest...]) where !isFieldValueChar(byte) {
                throw .badRequest("invalid chunk extension")
            }
        }
        return size
    }
}

/// Field names common in webhook traffic, matched case-insensitively so they need neither a
/// String nor HTTPTypes' validation and lowercasing. A match takes the table's spelling as its
/// `rawName` (names are case-insensitive).
enum KnownFieldNames {
    static let xHubSignature = HTTPField.Name("X-Hub-Signature")!
    static let xHubSignature256 = HTTPField.Name("X-Hub-Signature-256")!
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
    static let xForwardedProto = HTTPField.Name("X-Forwarded-Proto")!
    static let xRequestID = HTTPField.Name("X-Request-Id")!

    @inline(__always)
    static func lookup(_ name: UnsafeBufferPointer<UInt8>) -> HTTPField.Name? {
        switch name.count {
        case 4 where name.equalsLowercased("date"): .date
        case 6 where name.equalsLowercased("accept"): .accept
        case 6 where name.equalsLowercased("cookie"): .cookie
        case 6 where name.equalsLowercased("origin"): .origin
        case 10 where name.equalsLowercased("user-agent"): .userAgent
        case 12 where name.equalsLowercased("content-type"): .contentType
        case 12 where name.equalsLowercased("x-request-id"): xRequestID
        case 13 where name.equalsLowercased("authorization"): .authorization
        case 13 where name.equalsLowercased("cache-control"): .cacheControl
        case 15 where name.equalsLowercased("accept-encoding"): .acceptEncoding
        case 15 where name.equalsLowercased("accept-language"): .acceptLanguage
        case 15 where name.equalsLowercased("x-hub-signature"): xHubSignature
        case 15 where name.equalsLowercased("x-forwarded-for"): xForwardedFor
        case 16 where name.equalsLowercased("content-encoding"): .contentEncoding
        case 17 where name.equalsLowercased("x-forwarded-proto"): xForwardedProto
        case 19 where name.equalsLowercased("x-hub-signature-256"): xHubSignature256
        default: nil
        }
    }
}

/// What reading one line of a header section came to.
enum HeaderLineStep {
    /// The line is not complete yet.
    case needMore
    /// The empty line that ends the section.
    case endOfSection
    /// A field line was parsed into the head.
    case field
}

extension HTTP1HeadFields {
    /// Reads the next header-section line from `buffer` into the head, enforcing the section's
    /// size and field-count limits. Shared by the request and the response decoder.
    mutating func readLine(
        from buffer: inout InputBuffer, in storage: UnsafeBufferPointer<UInt8>, limits: HTTP1Limits, isRequest: Bool
    ) throws(HTTP1DecodeError) -> HeaderLineStep {
        let budget = limits.maxHeaderBytes - sectionBytes
        switch buffer.scanLine(in: storage, limit: budget - 2) {
        case .incomplete: return .needMore
        case .tooLong: throw .headersTooLarge("header section too large")
        case .bareLF: throw .badRequest("bare LF in header section")
        case .line(let start, let end):
            sectionBytes += end - start + 2
            buffer.consumeLine(end: end)
            if start == end { return .endOfSection }
            fieldCount += 1
            if fieldCount > limits.maxHeaderCount { throw .headersTooLarge("too many header fields") }
            try parseFieldLine(UnsafeBufferPointer(rebasing: storage[start..<end]), collect: true, isRequest: isRequest)
            return .field
        }
    }
}

extension InputBuffer {
    /// Consumes up to `remaining` buffered body bytes, appending them to `body` while it holds fewer
    /// than `keeping`; returns how many it consumed.
    mutating func takeBody(
        upTo remaining: Int, from storage: UnsafeBufferPointer<UInt8>, into body: inout [UInt8], keeping: Int = .max
    ) -> Int {
        let take = min(remaining, readableCount)
        if take > 0 {
            let kept = min(take, max(0, keeping - body.count))
            if kept > 0 { body.append(contentsOf: UnsafeBufferPointer(rebasing: storage[readIndex..<(readIndex + kept)])) }
            readIndex += take
        }
        return take
    }
}

/// The collected fields as `HTTPFields.replaceSubrange` reads them. It is generic and not
/// inlinable, so it iterates its argument through protocol witnesses; an `Array`'s iterator reads
/// each element through the `subscript` read coroutine, whose frame is heap-allocated there: one
/// malloc per field of every request and response. This iterator is a plain `next()`.
struct FieldListCopy: Collection {
    struct Iterator: IteratorProtocol {
        let fields: [HTTPField]
        var position = 0

        mutating func next() -> HTTPField? {
            guard position < fields.count else { return nil }
            defer { position += 1 }
            return fields[position]
        }
    }

    let fields: [HTTPField]

    init(_ fields: [HTTPField]) { self.fields = fields }

    var startIndex: Int { 0 }
    var endIndex: Int { fields.count }
    var count: Int { fields.count }
    func index(after index: Int) -> Int { index + 1 }
    subscript(position: Int) -> HTTPField { fields[position] }
    func makeIterator() -> Iterator { Iterator(fields: fields) }
}
