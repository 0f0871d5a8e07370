import Foundation

/// Locates `<ancestor>/shared/<what>` above this source file, or nil when it is absent.
func sharedPath(_ what: String, filePath: String = #filePath) -> String? {
    var directory = URL(fileURLWithPath: filePath).deletingLastPathComponent()
    while directory.path != "/" {
        let candidate = directory.appendingPathComponent("shared").appendingPathComponent(what)
        if FileManager.default.fileExists(atPath: candidate.path) { return candidate.path }
        directory = directory.deletingLastPathComponent()
    }
    return nil
}

/// The MaxMind DB conformance folder (/work/shared/mmdb-conformance), or nil.
let conformanceRoot = sharedPath("mmdb-conformance")

/// True when the conformance data is present; tests that need it are disabled otherwise.
let hasConformanceData = conformanceRoot != nil

/// The bytes of `path`.
func readBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// Paths of the `.mmdb` files below `directory`, sorted.
func mmdbFiles(under directory: String) -> [String] {
    guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
    var found: [String] = []
    while let relative = walker.nextObject() as? String {
        if relative.hasSuffix(".mmdb") { found.append(directory + "/" + relative) }
    }
    return found.sorted()
}

/// A deterministic pseudo-random generator (SplitMix64) for reproducible test inputs.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
