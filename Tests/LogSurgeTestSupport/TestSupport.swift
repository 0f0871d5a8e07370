import Foundation

/// Helpers every test target shares: the way to find `../shared` (the seeded generator they
/// use is `LogSurgeCore.SeededGenerator`).

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
