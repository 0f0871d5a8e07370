import Foundation
import LogSurgeTestSupport

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
