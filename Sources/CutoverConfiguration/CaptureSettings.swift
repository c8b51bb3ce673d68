/// Where and how much to capture (`capture:` in the config).
package struct CaptureSettings: Sendable, Equatable {
    package var path: String
    /// The file is rotated before a line would take it past this size.
    package var maxBytes: Int
    /// Rotated files kept besides the current one (`path.1` ... `path.<keep>`).
    package var keep: Int
    /// Only these routes (`cloud`, `onprem/<name>`); empty: every route.
    package var routes: [String]

    package init(path: String, maxBytes: Int = 100 * 1024 * 1024, keep: Int = 5, routes: [String] = []) {
        self.path = path
        self.maxBytes = maxBytes
        self.keep = keep
        self.routes = routes
    }
}
