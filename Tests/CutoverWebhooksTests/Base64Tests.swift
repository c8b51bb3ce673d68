import Foundation
import Testing

@testable import CutoverWebhooks

@Suite struct Base64Tests {
    @Test func rfc4648VectorsAndRoundTripsAtEveryPaddingLength() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
            #expect(Base64.decode(encoded) == Array(plain.utf8))
        }
        var generator = SystemRandomNumberGenerator()
        for length in 0...7 {
            for _ in 0..<50 {
                let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let encoded = Base64.encode(bytes)
                #expect(encoded == Data(bytes).base64EncodedString(), "the alphabet and padding Foundation uses")
                #expect(Base64.decode(encoded) == bytes)
            }
        }
    }

    @Test func rejectsWhatIsNotCanonical() {
        for text in [
            "Zg", "Zg=", "Zg===", "Z===", "====", "=Zg=", "Zg==Zg==", " Zg==", "Zg==\n", "Zm9v\nYmFy",
            "Zm9v!A==", "-_8=", "Zh==", "Zm9=",  // Zh== and Zm9= carry bits past the last byte
        ] {
            #expect(Base64.decode(text) == nil, "\(text)")
        }
        #expect(Base64.decode(Substring("xZg==").dropFirst()) == Array("f".utf8))
    }
}
