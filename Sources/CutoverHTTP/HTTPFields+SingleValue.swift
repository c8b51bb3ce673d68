import HTTPTypes

extension HTTPFields {
    /// `self[name]` without its copy: a field that occurs once (every header the request path reads)
    /// gives its own string, where the subscript joins even a single value into a new one. Several
    /// occurrences are joined as the subscript joins them, so a repeated field reads the same.
    package func value(of name: HTTPField.Name) -> String? {
        var found: String?
        for field in self where field.name == name {
            if found != nil { return self[name] }
            found = field.value
        }
        return found
    }
}
