import Foundation
import LogSurge

/// Helpers every test target shares: one seeded generator and the way to find `../shared`.

/// The project's seeded generator (SplitMix64): same seed, same inputs, so failures reproduce.
public typealias SeededGenerator = LogSurge.SeededGenerator

/// Locates `<ancestor>/shared/<what>` above the calling source file, or nil when it is absent
/// (tests that need it skip then).
public func sharedPath(_ what: String, filePath: String = #filePath) -> String? {
    var directory = URL(fileURLWithPath: filePath).deletingLastPathComponent()
    while directory.path != "/" {
        let candidate = directory.appendingPathComponent("shared").appendingPathComponent(what)
        if FileManager.default.fileExists(atPath: candidate.path) { return candidate.path }
        directory = directory.deletingLastPathComponent()
    }
    return nil
}
