// swift-tools-version: 6.1
import Foundation
import PackageDescription

// libFuzzer harnesses for Cutover's parsers, one executable per `FuzzTarget` case. A package of its
// own so that only this build links libFuzzer (its `main`); `make fuzz` builds it with
// `swift build --package-path Fuzz --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address`.
// The harnesses themselves live in the root package's CutoverFuzzing target, which the normal
// suite also runs.

let strictSwift: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

// SwiftPM names a path dependency after its directory, which is whatever the checkout is called.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let cutover = root.lastPathComponent.lowercased()

let harnesses = ["http1-request", "http1-response", "http2-server", "json", "webhook", "config"]

let package = Package(
    name: "CutoverFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: root.path)],
    targets: [
        // LLVMFuzzerRunDriver's prototype: libFuzzer ships no header for it.
        .target(name: "CLibFuzzer"),
        .target(name: "FuzzDriver", dependencies: ["CLibFuzzer", .product(name: "CutoverFuzzing", package: cutover)], swiftSettings: strictSwift),
    ] + harnesses.map { name in
        .executableTarget(name: "fuzz-\(name)", dependencies: ["FuzzDriver", .product(name: "CutoverFuzzing", package: cutover)], swiftSettings: strictSwift)
    }
)
