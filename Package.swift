// swift-tools-version: 6.1
import PackageDescription

/// Settings every Swift target shares: Swift 6 language mode, strict concurrency, and the
/// upcoming features that make dependencies and existentials explicit.
let strictSwift: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "Cutover",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "cutover", targets: ["cutover"]),
        // For the libFuzzer package in Fuzz/ only (it links libFuzzer, this package never does).
        .library(name: "CutoverFuzzing", targets: ["CutoverFuzzing"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // System libraries and the one C shim the Glibc module cannot give us (accept4, errno text).
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CNGHTTP2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .target(name: "CSystemShims"),
        .target(name: "CSQLiteWAL", dependencies: ["CSQLite"]),
        // The one lock type every target shares: a Mutex whose hand-over ThreadSanitizer can see.
        .target(name: "CutoverLocking", dependencies: ["CSystemShims"], swiftSettings: strictSwift),

        // Socket layer: non-blocking POSIX sockets, each loop an epoll set under one Dispatch source. No HTTP knowledge.
        .target(name: "CutoverSockets", dependencies: ["CSystemShims"], swiftSettings: strictSwift),
        // TLS over the socket layer: OpenSSL on memory BIOs, driven by the same readiness events.
        .target(name: "CutoverTLS", dependencies: ["CutoverLocking", "CutoverSockets", "COpenSSL"], swiftSettings: strictSwift),
        // HTTP/1.1 codec: incremental, strict, bounded. No sockets.
        .target(
            name: "CutoverHTTP",
            dependencies: [.product(name: "HTTPTypes", package: "swift-http-types")],
            swiftSettings: strictSwift
        ),
        // HTTP/2: an nghttp2 session fed from memory, confined to its connection's loop. No sockets.
        .target(
            name: "CutoverHTTP2",
            dependencies: ["CNGHTTP2", .product(name: "HTTPTypes", package: "swift-http-types")],
            swiftSettings: strictSwift
        ),
        // HTTP server and client: the codecs driven by the socket layer.
        .target(
            name: "CutoverHTTPServer",
            dependencies: [
                "CutoverLocking", "CutoverSockets", "CutoverTLS", "CutoverHTTP", "CutoverHTTP2", .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strictSwift
        ),
        .target(
            name: "CutoverHTTPClient",
            dependencies: [
                "CutoverLocking", "CutoverSockets", "CutoverTLS", "CutoverHTTP", "CutoverHTTP2", .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strictSwift
        ),
        // Webhook model: JSON, canonical event, Cloud and On-Prem decoders and renderers, signatures, the
        // outbound request a destination receives (HTTPTypes: its headers, no HTTP machinery). No I/O.
        .target(
            name: "CutoverWebhooks",
            dependencies: ["CutoverLocking", "COpenSSL", .product(name: "HTTPTypes", package: "swift-http-types")],
            swiftSettings: strictSwift
        ),
        // libpq, wrapped: connections, binary parameters and results, errors with SQLSTATE.
        .target(name: "CutoverPostgres", dependencies: ["CLibPQ"], swiftSettings: strictSwift),
        // Durable spool: raw requests, canonical events, deliveries, quarantine; on SQLite or PostgreSQL.
        .target(name: "CutoverSpool", dependencies: ["CutoverLocking", "CSQLite", "CSQLiteWAL", "CutoverPostgres"], swiftSettings: strictSwift),
        // The upper half follows DESIGN's data flow, one target per box (docs/architecture.md).
        // Configuration: YAML file + environment + flags -> typed, validated settings.
        .target(
            name: "CutoverConfiguration",
            dependencies: [
                "CutoverSockets", "CutoverTLS", "CutoverHTTP", "CutoverHTTPServer", "CutoverHTTPClient", "CutoverWebhooks",
                .product(name: "Yams", package: "Yams"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strictSwift
        ),
        // Operations: metrics, readiness, logging, the admin API, spool retention.
        .target(
            name: "CutoverOperations",
            dependencies: [
                "CutoverLocking", "CutoverConfiguration", "CutoverHTTP", "CutoverHTTPServer", "CutoverHTTPClient", "CutoverSpool", "CutoverWebhooks",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),
        // Ingress: routes, authentication, normalize, spool submit, capture.
        .target(
            name: "CutoverIngress",
            dependencies: [
                "CutoverLocking", "CutoverConfiguration", "CutoverOperations", "CutoverHTTP", "CutoverHTTPServer", "CutoverSockets", "CutoverSpool",
                "CutoverWebhooks", .product(name: "HTTPTypes", package: "swift-http-types"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        // Delivery: claim -> render -> sign -> send, retries, breaker, dead letters; replay sends the same way.
        .target(
            name: "CutoverDelivery",
            dependencies: [
                "CutoverLocking", "CutoverConfiguration", "CutoverOperations", "CutoverHTTP", "CutoverHTTPClient", "CutoverSockets", "CutoverTLS",
                "CutoverSpool", "CutoverWebhooks",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        // `cutover probe`: every notification type Cutover knows, through the one outbound builder, to an endpoint.
        .target(
            name: "CutoverProbe",
            dependencies: [
                "CutoverHTTP", "CutoverHTTPClient", "CutoverSockets", "CutoverTLS", "CutoverWebhooks",
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strictSwift
        ),
        // The composition root: builds the parts from settings and runs them as services.
        .target(
            name: "CutoverRelay",
            dependencies: [
                "CutoverLocking", "CutoverConfiguration", "CutoverOperations", "CutoverIngress", "CutoverDelivery",
                "CutoverSockets", "CutoverTLS", "CutoverHTTPServer", "CutoverHTTPClient", "CutoverSpool", "CutoverWebhooks",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),
        .executableTarget(
            name: "cutover",
            dependencies: [
                "CutoverLocking", "CutoverRelay", "CutoverConfiguration", "CutoverOperations", "CutoverDelivery", "CutoverSpool", "CutoverWebhooks",
                "CutoverSockets", "CutoverProbe", "CutoverTLS", "CutoverHTTP", "CutoverHTTPClient", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),

        // Benchmark-only server for scripts/bench-h2.sh: HTTPServer answering `return 200`.
        .executableTarget(
            name: "cutover-h2-bench",
            dependencies: [
                "CutoverHTTPServer", "CutoverSockets", "CutoverTLS", .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strictSwift
        ),

        // The fuzz harnesses: each parser's invariants over arbitrary bytes. Fuzz/ drives them with
        // libFuzzer; CutoverFuzzingTests replays the seeds and every input that once failed.
        .target(
            name: "CutoverFuzzing",
            dependencies: [
                "CutoverHTTP", "CutoverHTTP2", "CutoverWebhooks", "CutoverConfiguration",
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strictSwift
        ),

        // What the test targets share: paths, temporary directories, ports, the one process runner and
        // peer type, the Python downstream, TLS material, the client send wrappers. Not shipped.
        .target(
            name: "CutoverTestSupport",
            dependencies: [
                "CutoverLocking", "CutoverHTTP", "CutoverHTTPClient", "CutoverHTTPServer", "CutoverSockets", "CutoverTLS",
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            path: "Tests/CutoverTestSupport",
            swiftSettings: strictSwift
        ),

        // The server tests that run on the test loop live here with it (see ServerOnTestLoopTests).
        .testTarget(
            name: "CutoverSocketsTests",
            dependencies: [
                "CutoverLocking", "CutoverSockets", "CutoverHTTPServer", "CutoverTestSupport", .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(name: "CutoverHTTPTests", dependencies: ["CutoverHTTP", "CutoverTestSupport"], swiftSettings: strictSwift),
        .testTarget(
            name: "CutoverHTTPServerTests",
            dependencies: ["CutoverLocking", "CutoverHTTPServer", "CutoverHTTPClient", "CutoverSockets", "CutoverTestSupport"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "CutoverWebhooksTests",
            dependencies: [
                "CutoverLocking", "CutoverWebhooks", "CutoverTestSupport", .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "CutoverTLSTests",
            dependencies: [
                "CutoverLocking", "CutoverTLS", "CutoverHTTPServer", "CutoverHTTPClient", "CutoverSockets", "CutoverHTTP", "CutoverTestSupport",
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "CutoverHTTP2Tests",
            dependencies: [
                "CutoverLocking", "CutoverHTTP2", "CutoverHTTPServer", "CutoverHTTPClient", "CutoverSockets", "CutoverTLS", "CutoverHTTP",
                "CutoverTestSupport", .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(name: "CutoverSpoolTests", dependencies: ["CutoverLocking", "CutoverSpool", "CutoverPostgres", "CutoverTestSupport"], swiftSettings: strictSwift),
        .testTarget(
            name: "CutoverRelayTests",
            dependencies: [
                "CutoverLocking", "CutoverRelay", "CutoverConfiguration", "CutoverOperations", "CutoverIngress", "CutoverDelivery",
                "CutoverHTTP", "CutoverHTTPServer", "CutoverHTTPClient", "CutoverSockets", "CutoverSpool",
                "CutoverTLS", "CutoverWebhooks", "CutoverProbe", "CutoverTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(name: "CutoverFuzzingTests", dependencies: ["CutoverFuzzing", "CutoverTestSupport"], swiftSettings: strictSwift),
        .testTarget(
            name: "CutoverIntegrationTests",
            dependencies: ["CutoverRelay", "CutoverConfiguration", "CutoverWebhooks", "CutoverTestSupport"],
            swiftSettings: strictSwift
        ),
    ]
)
