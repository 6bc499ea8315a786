// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "keyway",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "keyway", targets: ["keyway"]),
        // A Swift client of a running Keyway (issue 15), generated from the same contract.
        .library(name: "KeywayClient", targets: ["KeywayClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-openapi-generator.git", from: "1.14.3"),
        .package(url: "https://github.com/apple/swift-openapi-runtime.git", from: "1.13.4"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird.git", from: "2.1.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        // Already in the graph through the OpenAPI generator; the server reads its own contract with it to
        // name the parameter at fault when the generated decoder refuses one.
        .package(url: "https://github.com/jpsim/Yams.git", "5.0.1"..<"7.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        // Outgoing HTTP (the webhook notifier); already built for HummingbirdTesting.
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        // GET /metrics in Prometheus's text format (issue 5 asks for swift-prometheus).
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // Property tests of the access evaluator against a simple reference (issue 4).
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        // The PostgreSQL store for several instances on one database (issue 5).
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // The console's HTML (issue 14): templates that escape every value unless told not to.
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        // The generated client's transport (issue 15), on the async-http-client already in the graph.
        .package(url: "https://github.com/swift-server/swift-openapi-async-http-client.git", from: "1.5.0"),
        // Already in the graph through Hummingbird: `keyway serve` runs Swift concurrency's jobs on NIO's threads.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        // The domain: Foundation only. Every other target points inward at this one.
        .target(name: "KeywayCore"),
        // The contract: openapi.yaml is the one copy; types and the server protocol are generated from it.
        .target(
            name: "KeywayAPI",
            dependencies: [.product(name: "OpenAPIRuntime", package: "swift-openapi-runtime")],
            resources: [.copy("openapi.yaml")],
            plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]
        ),
        // The SQL both stores write alike (visibility, list filters and sorts), in either dialect.
        .target(name: "KeywaySQL", dependencies: ["KeywayCore"]),
        .target(
            name: "KeywayStoreSQLite",
            dependencies: [
                "KeywayCore", "KeywaySQL", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "KeywayStorePostgres",
            dependencies: [
                "KeywayCore", "KeywaySQL", .product(name: "PostgresNIO", package: "postgres-nio"),
                // Part of PostgresNIO (built with it): only for its pool's `ConnectionPoolError`.
                .product(name: "_ConnectionPoolModule", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "KeywayServer",
            dependencies: [
                "KeywayCore", "KeywayAPI", "KeywayStoreSQLite", "KeywayStorePostgres", "KeywayConsole",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The console (issue 14): pages for people who run doors, on the same services and rules as the API.
        .target(
            name: "KeywayConsole",
            dependencies: [
                "KeywayCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("templates"), .copy("static")]
        ),
        // The client: the contract's client mode over async-http-client, behind a small facade.
        .target(
            name: "KeywayClient",
            dependencies: [
                "KeywayAPI",
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIAsyncHTTPClient", package: "swift-openapi-async-http-client"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]
        ),
        .executableTarget(
            name: "keyway",
            dependencies: [
                "KeywayServer", "KeywayClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(name: "KeywayTestSupport", dependencies: ["KeywayCore", "KeywayStorePostgres"]),
        .testTarget(
            name: "KeywayCoreTests",
            dependencies: [
                "KeywayCore", "KeywayTestSupport", .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "KeywayStoreTests",
            dependencies: [
                "KeywayCore", "KeywaySQL", "KeywayStoreSQLite", "KeywayStorePostgres", "KeywayTestSupport",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "_ConnectionPoolModule", package: "postgres-nio"),
            ]
        ),
        .testTarget(
            name: "KeywayServerTests",
            dependencies: [
                "KeywayServer", "KeywayCore", "KeywayTestSupport", "KeywayStoreSQLite", "KeywayStorePostgres",
                "KeywayConsole", "KeywayClient", .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                // Built for the SQLite store already: a test holds the file's write lock on a connection of its own.
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
    ]
)
