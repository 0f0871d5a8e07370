import Foundation
import LogSurgePipelineTestSupport
import Testing

/// The Prometheus fleet example run for real (Examples/prometheus/fleet-test.sh): two
/// node_exporters and a Prometheus server on loopback, fed by two logsurge runs, whose rules must
/// sum the two servers' counts exactly. Skips where Prometheus is not installed.
@Suite(
    .tags(.launchesBinary),
    .enabled(
        if: Support.executable != nil && PrometheusTools.present,
        "needs the logsurge executable, prometheus, promtool, a node_exporter, curl and jq"))
struct FleetExampleCLITests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Examples/prometheus/fleet-test.sh").standardized

    @Test func fleetRulesSumTheServersCounts() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [Self.script.path]
        process.environment = ProcessInfo.processInfo.environment.merging(["LOGSURGE": Support.executable!.path]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try Support.launch(process)
        let watchdog = Support.Watchdog(process, seconds: 180)
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(!watchdog.fired(), "the fleet example hung")
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(!text.contains("FAIL"))
        #expect(text.contains("ok   "))
    }
}

/// Whether Prometheus, its tools and the fleet script's helpers are on PATH.
enum PrometheusTools {
    static func onPath(_ name: String) -> Bool {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").contains {
            FileManager.default.isExecutableFile(atPath: "\($0)/\(name)")
        }
    }

    static var present: Bool {
        ["prometheus", "promtool", "curl", "jq"].allSatisfy(onPath)
            && (onPath("prometheus-node-exporter") || onPath("node_exporter"))
    }
}
