import Foundation
import LogSurgeFuzzChecks
import LogSurgeTestSupport
import Testing

/// One file given to a fuzz target's checks.
struct FuzzInput: CustomTestStringConvertible, Sendable {
    var target: FuzzTarget
    var path: String
    var testDescription: String { "\(target.rawValue)/\(URL(fileURLWithPath: path).lastPathComponent)" }

    /// Runs the target's checks on this file: every invariant must hold.
    func expectChecksHold() throws {
        let problems = try Data(contentsOf: URL(fileURLWithPath: path)).withUnsafeBytes { target.check($0) }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }
}

/// This checkout's Fuzz/ directory.
private let fuzzDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fuzz").path

/// The files of every target under `Fuzz/<kind>/<target>/` (READMEs aside), by target and name.
private func inputs(_ kind: String) -> [FuzzInput] {
    FuzzTarget.allCases.flatMap { target in
        let directory = "\(fuzzDirectory)/\(kind)/\(target.rawValue)"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { !$0.hasSuffix(".md") && !$0.hasPrefix(".") }.sorted()
            .map { FuzzInput(target: target, path: "\(directory)/\($0)") }
    }
}

/// The MaxMind DB conformance databases, good and corrupt, when ../shared has them.
private let conformanceDatabases: [FuzzInput] = {
    guard let root = sharedPath("mmdb-conformance"),
        let walker = FileManager.default.enumerator(atPath: root)
    else { return [] }
    var found: [FuzzInput] = []
    while let relative = walker.nextObject() as? String {
        if relative.hasSuffix(".mmdb") { found.append(FuzzInput(target: .mmdb, path: "\(root)/\(relative)")) }
    }
    return found.sorted { $0.path < $1.path }
}()

/// Inputs the fuzz targets found (Fuzz/Regressions) and their seeds, replayed without the
/// sanitizer: every check must hold. `Fuzz/run.sh TARGET 0` replays them under ASan too.
@Suite("Fuzz inputs replayed")
struct FuzzReplayTests {
    @Test("every kept regression input passes its target's checks", arguments: inputs("Regressions"))
    func regression(_ input: FuzzInput) throws {
        try input.expectChecksHold()
    }

    @Test("every seed passes its target's checks", arguments: inputs("Seeds"))
    func seed(_ input: FuzzInput) throws {
        try input.expectChecksHold()
    }

    @Test("every target has seeds")
    func seedsExist() {
        let seeds = inputs("Seeds")
        for target in FuzzTarget.allCases {
            #expect(seeds.contains { $0.target == target }, "no seeds for \(target.rawValue)")
        }
    }

    @Test(
        "the conformance databases, good and corrupt, pass the mmdb checks",
        .enabled(if: !conformanceDatabases.isEmpty, "needs ../shared/mmdb-conformance"), arguments: conformanceDatabases)
    func conformance(_ input: FuzzInput) throws {
        try input.expectChecksHold()
    }
}
