// swift-tools-version:6.2
import PackageDescription

// The layout follows the pipeline: input → parse → geo → aggregate → detect → output.
// Each stage is its own target so dependencies flow one way (docs/ARCHITECTURE.md); `LogSurge` runs them,
// and the `logsurge` executable is only the command layer.
let package = Package(
    name: "logsurge",
    products: [
        .executable(name: "logsurge", targets: ["LogSurgeCLI"]),
        .library(
            name: "LogSurge",
            targets: [
                "LogSurgeCore", "LogSurgeInput", "LogSurgeParse", "LogSurgeGeo", "LogSurgeAggregate",
                "LogSurgeDetect", "LogSurge", "LogSurgeReport", "LogSurgeGenerate",
            ]),
        // The detectors alone, on rows of counts.
        .library(name: "LogSurgeDetect", targets: ["LogSurgeCore", "LogSurgeAggregate", "LogSurgeDetect"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // SQLite for `--state` (Debian `libsqlite3-dev`).
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        // `--alertmanager` and `--webhook`: HTTP(S) posts from a client the server world uses
        // (connection pooling, TLS, timeouts), not sockets of our own.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.100.0"),
        // Tests only: property checks of the pipeline over random inputs, chunkings and thread counts.
        .package(url: "https://github.com/x-sheep/swift-property-based", exact: "2.0.1"),
    ],
    targets: [
        // zlib from the system (Debian `zlib1g-dev`), linked as `z`.
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // The default country database, embedded in the binary with `.incbin`.
        .target(
            name: "CGeoData",
            cSettings: [.headerSearchPath(".")]
        ),
        // Intel ISA-L's inflater, compiled only when its header is present (`libisal-dev`) and
        // loaded with dlopen at run time, so neither is needed to build or run.
        .target(name: "CISAL"),
        // The value types every stage shares: country codes, UTC minutes, escaping for the
        // wire formats, the seeded generator.
        .target(name: "LogSurgeCore"),
        // Reading bytes: files, directories of rotated logs, stdin, gzip, line-aligned chunks.
        // Writing them too: output files made beside their target and renamed into place, gzip.
        .target(name: "LogSurgeInput", dependencies: ["LogSurgeCore", "CZlib", "CISAL", "CLogSurgeSystem"]),
        // Turning a line of bytes into a few integers: formats, timestamps, statuses.
        .target(name: "LogSurgeParse", dependencies: ["LogSurgeCore"]),
        // IP addresses and the MaxMind DB reader that maps them to countries.
        .target(name: "LogSurgeGeo", dependencies: ["LogSurgeCore", "CGeoData"]),
        // Per-thread scheduling (the parse workers yield to the reader), returning freed memory.
        .target(name: "CLogSurgeSystem"),
        // Per-minute buckets by site and country: the tables the parse workers fill, their
        // merge, and the spill of a long span to disk.
        .target(name: "LogSurgeAggregate", dependencies: ["LogSurgeCore"]),
        // The detectors: surges and error spikes over rows of counts, their episodes, snapshots
        // and charted trace. No pipeline, report or country database in its dependencies.
        .target(name: "LogSurgeDetect", dependencies: ["LogSurgeCore", "LogSurgeAggregate"]),
        // The pipeline: the parallel parse stage, the in-order merge, the run's accounting.
        .target(
            name: "LogSurge",
            dependencies: [
                "LogSurgeCore", "LogSurgeInput", "LogSurgeParse", "LogSurgeGeo", "LogSurgeAggregate",
                "LogSurgeDetect", "CLogSurgeSystem",
            ]
        ),
        // What a run writes: the text and HTML reports, buckets, alerts, summary, metrics; and
        // the reader of bucket and series files for `logsurge detect`.
        .target(
            name: "LogSurgeReport",
            dependencies: [
                "LogSurge", "LogSurgeCore", "LogSurgeInput", "LogSurgeParse", "LogSurgeGeo",
                "LogSurgeAggregate", "LogSurgeDetect",
            ]
        ),
        // Synthetic access logs with injected events, for tests, benchmarks and `logsurge generate`.
        .target(name: "LogSurgeGenerate", dependencies: ["LogSurgeCore", "LogSurgeInput", "LogSurgeParse"]),
        // Alerts delivered as they are raised: Alertmanager and webhooks, retried from bounded
        // queues on threads of their own, so a slow receiver never holds the reading back.
        .target(
            name: "LogSurgeDeliver",
            dependencies: [
                "LogSurgeCore", "LogSurgeDetect", "LogSurgeReport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // What `--state` remembers between runs, in SQLite: its own target, so GRDB stays out of the library.
        .target(
            name: "LogSurgeState",
            dependencies: [
                "LogSurge", "LogSurgeCore", "LogSurgeAggregate", "LogSurgeDetect", "LogSurgeInput",
                "LogSurgeGeo", .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .executableTarget(
            name: "LogSurgeCLI",
            dependencies: [
                "LogSurge",
                "LogSurgeCore",
                "LogSurgeInput",
                "LogSurgeParse",
                "LogSurgeGeo",
                "LogSurgeAggregate",
                "LogSurgeDetect",
                "LogSurgeReport",
                "LogSurgeGenerate",
                "LogSurgeState",
                "LogSurgeDeliver",
                "CLogSurgeSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The detection benchmark: a matrix of generated scenarios with known events.
        .executableTarget(
            name: "DetectionBenchmark",
            dependencies: [
                "LogSurgeCore", "LogSurgeGeo", "LogSurgeParse", "LogSurgeAggregate", "LogSurgeDetect", "LogSurgeGenerate",
                "LogSurgeReport",
            ],
            path: "Benchmarks/DetectionBenchmark"
        ),
        // The stage benchmark: each stage's rate beside a reference floor (Benchmarks/README.md).
        .executableTarget(
            name: "StageBenchmark",
            dependencies: [
                "LogSurge", "LogSurgeCore", "LogSurgeAggregate", "LogSurgeDetect", "LogSurgeReport",
                "LogSurgeGenerate", "LogSurgeInput", "LogSurgeParse", "LogSurgeGeo",
            ],
            path: "Benchmarks/StageBenchmark"
        ),
        // What every test target shares (a seeded generator, the way to find ../shared).
        .target(name: "LogSurgeTestSupport", dependencies: ["LogSurgeCore"], path: "Tests/LogSurgeTestSupport"),
        // What the test targets above the pipeline share (fixtures, temporary files, runs of the
        // pipeline, generated logs, the page and the metrics read back); not the detectors' tests,
        // which build without the pipeline.
        .target(
            name: "LogSurgePipelineTestSupport",
            dependencies: ["LogSurge", "LogSurgeCore", "LogSurgeGenerate", "LogSurgeGeo", "LogSurgeInput", "LogSurgeParse"],
            path: "Tests/LogSurgePipelineTestSupport"
        ),
        .testTarget(name: "LogSurgeInputTests", dependencies: ["LogSurgeInput", "LogSurgeCore", "LogSurgeTestSupport"]),
        .testTarget(name: "LogSurgeParseTests", dependencies: ["LogSurgeParse", "LogSurgeCore", "LogSurgeTestSupport"]),
        // The detectors' tests: like LogSurgeDetect, nothing of the pipeline, the reports, the
        // generator or the country database.
        .testTarget(name: "LogSurgeDetectTests", dependencies: ["LogSurgeDetect", "LogSurgeCore"]),
        .testTarget(name: "LogSurgeGeoTests", dependencies: ["LogSurgeGeo", "LogSurgeCore", "LogSurgeTestSupport"]),
        // The fuzz targets' checks (Fuzz/README.md): the libFuzzer binaries run them under ASan,
        // and `swift test` replays every kept input through them.
        .target(
            name: "LogSurgeFuzzChecks",
            dependencies: ["LogSurgeCore", "LogSurgeParse", "LogSurgeInput", "LogSurgeGeo"],
            path: "Fuzz/Checks"
        ),
        .testTarget(name: "LogSurgeFuzzTests", dependencies: ["LogSurgeFuzzChecks", "LogSurgeTestSupport"]),
        // The reports and the other outputs, written in-process from runs of the pipeline.
        .testTarget(
            name: "LogSurgeReportTests",
            dependencies: [
                "LogSurgeReport", "LogSurge", "LogSurgeCore", "LogSurgeInput", "LogSurgeParse", "LogSurgeAggregate",
                "LogSurgeDetect", "LogSurgeGenerate", "LogSurgePipelineTestSupport",
            ]
        ),
        // The generator; its logs read back through the pipeline and the embedded database.
        .testTarget(
            name: "LogSurgeGenerateTests",
            dependencies: [
                "LogSurgeGenerate", "LogSurge", "LogSurgeCore", "LogSurgeGeo", "LogSurgeAggregate", "LogSurgePipelineTestSupport",
            ]
        ),
        // Every suite that launches the built `logsurge` (named `…CLITests`, tagged
        // `launchesBinary`): `swift test --skip CLITests` leaves out the whole target, whose name
        // matches too, so nothing that runs without the binary belongs here.
        .testTarget(
            name: "LogSurgeCLITests",
            dependencies: [
                "LogSurge", "LogSurgeCore", "LogSurgeInput", "LogSurgeGenerate", "LogSurgeReport", "LogSurgeState",
                "LogSurgeTestSupport", "LogSurgePipelineTestSupport", .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(
            name: "LogSurgeTests",
            dependencies: [
                "LogSurge", "LogSurgeCore", "LogSurgeInput", "LogSurgeParse", "LogSurgeGeo", "LogSurgeAggregate",
                "LogSurgeDetect", "LogSurgeReport", "LogSurgeGenerate", "LogSurgeTestSupport", "LogSurgePipelineTestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            // Logs, their expected buckets, vendors' samples and the golden outputs: read by path
            // (LogSurgePipelineTestSupport's `Support.fixtures`) by this target and others, not
            // as a bundle's resources.
            exclude: ["Fixtures"]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// A warning in this package's own Swift code is an error (its dependencies' warnings are theirs:
// SwiftPM applies this to the root package only).
for target in package.targets where target.type != .system && !target.name.hasPrefix("C") {
    target.swiftSettings = (target.swiftSettings ?? []) + [.treatAllWarnings(as: .error)]
}
