/// Why a MaxMind DB could not be opened or a lookup in it failed.
///
/// Every message names the database (its path, or `<bytes>`/`<embedded>`), says what was
/// wrong and, for data errors, the byte offset. Errors are values: a corrupt database never
/// crashes, hangs or reads out of bounds.
public struct MMDBError: Error, Sendable, CustomStringConvertible, Equatable {
    enum Kind: Sendable, Equatable {
        /// The file could not be opened, sized or mapped (`errno` text).
        case cannotRead(String)
        /// No metadata marker in the last 128 KiB.
        case notMaxMindDB
        /// The metadata is missing fields or has values the reader cannot use.
        case invalidMetadata(String)
        /// A search-tree record points outside the tree and the data section.
        case corruptSearchTree(String)
        /// The data section holds a value that cannot be decoded.
        case invalidData(offset: Int, reason: String)
    }

    let kind: Kind
    /// The database the error is about: a path, `<bytes>` or `<embedded>`.
    let source: String

    init(_ kind: Kind, source: String) {
        self.kind = kind
        self.source = source
    }

    public var description: String {
        switch kind {
        case .cannotRead(let reason):
            return "\(source): cannot read the MaxMind DB: \(reason)"
        case .notMaxMindDB:
            return "\(source): not a MaxMind DB file (no metadata marker in its last 128 KiB)"
        case .invalidMetadata(let reason):
            return "\(source): invalid MaxMind DB metadata: \(reason)"
        case .corruptSearchTree(let reason):
            return "\(source): corrupt MaxMind DB search tree: \(reason)"
        case .invalidData(let offset, let reason):
            return "\(source): invalid MaxMind DB data at offset \(offset): \(reason)"
        }
    }
}
