import CutoverHTTP
import HTTPTypes
import Testing

@Suite struct HTTPFieldsValueTests {
    @Test func aFieldReadsAsTheSubscriptReadsIt() {
        var fields: HTTPFields = [.contentType: "application/json", .accept: "a", .cookie: "x=1"]
        fields.append(HTTPField(name: .accept, value: "b"))
        fields.append(HTTPField(name: .cookie, value: "y=2"))
        for name in [HTTPField.Name.contentType, .accept, .cookie, .authorization, HTTPField.Name("X-Request-Id")!] {
            #expect(fields.value(of: name) == fields[name], "\(name)")
        }
        #expect(fields.value(of: .accept) == "a, b")
        #expect(fields.value(of: .cookie) == "x=1; y=2")
        #expect(fields.value(of: HTTPField.Name("content-TYPE")!) == "application/json", "names compare case-insensitively")
    }
}
