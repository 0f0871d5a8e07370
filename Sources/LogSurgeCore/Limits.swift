/// The sizes every stage agrees on, each declared once.
public enum Limits {
    /// The longest line read, in bytes: a longer one is counted (`line_too_long`) and left
    /// out, never held whole. 1 MiB: headers escaped into a line make real lines long.
    public static let longestLine = 1 << 20
    /// The size of the chunks a reader hands the parse workers, in bytes (each ends at the end
    /// of a line): large enough that a chunk's fixed costs vanish, small enough that two per
    /// thread stay in flight. 2 MiB.
    public static let chunkSize = 2 << 20
}
