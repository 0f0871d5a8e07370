import Foundation
import LogSurgeTestSupport
import Testing

/// The documents users and scripts rely on stay in step with what they describe.
@Suite struct DocumentationTests {
    /// The repository's root, from this file's place in it.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test(
        "docs/contract.md is the project's contract (../shared/contract.md), word for word",
        .enabled(if: sharedPath("contract.md") != nil, "needs ../shared/contract.md"))
    func contractIsInStep() throws {
        let shared = try String(contentsOfFile: sharedPath("contract.md")!, encoding: .utf8)
        let kept = try String(contentsOf: Self.root.appendingPathComponent("docs/contract.md"), encoding: .utf8)
        #expect(kept == shared, "copy ../shared/contract.md to docs/contract.md")
    }
}
