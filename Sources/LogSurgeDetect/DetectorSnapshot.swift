/// The bytes of a `DetectionEngine`'s state, so that a nightly `--state` run goes on from where
/// the last one stopped instead of stepping the detectors' whole window again.
///
/// A private format, read only by the build that wrote it: `DetectionEngine.snapshotFormat` and
/// the detector configuration open it, and a snapshot of another format or configuration is
/// refused (the caller then replays the window). Little-endian; whole numbers as LEB128
/// varints (zig-zag when signed), so the mostly small counts of a week of minutes take a byte.
struct SnapshotWriter {
    private(set) var bytes: [UInt8] = []

    mutating func unsigned(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    /// Writes `value` as `unsigned` does, at `cursor` (at most 10 bytes), moving it past: for
    /// loops that write many numbers into a buffer of their own (`append(atMost:)`); `unsigned`
    /// appends to the array directly, a number at a time.
    @inline(__always)
    static func varint(_ value: UInt64, at cursor: inout UnsafeMutablePointer<UInt8>) {
        var value = value
        while value >= 0x80 {
            cursor.pointee = UInt8(truncatingIfNeeded: value) | 0x80
            cursor += 1
            value >>= 7
        }
        cursor.pointee = UInt8(value)
        cursor += 1
    }

    /// Appends the bytes `body` writes, at most `limit` of them, to a buffer of that size.
    mutating func append(atMost limit: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int) {
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: limit)
        defer { buffer.deallocate() }
        let written = body(buffer)
        precondition(written <= limit)
        bytes.append(contentsOf: UnsafeBufferPointer(start: buffer, count: written))
    }

    mutating func int(_ value: Int) { unsigned(UInt64(bitPattern: Int64((value << 1) ^ (value >> 63)))) }
    mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }
    mutating func double(_ value: Double) { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 } }
    mutating func float(_ value: Float) { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 } }

    mutating func string(_ value: String) {
        unsigned(UInt64(value.utf8.count))
        bytes += value.utf8
    }

    /// Floats as they are in memory (little-endian), after their number.
    mutating func floats(_ values: [Float]) {
        unsigned(UInt64(values.count))
        #if _endian(little)
        values.withUnsafeBytes { bytes += $0 }
        #else
        for value in values { float(value) }
        #endif
    }

    mutating func optional<T>(_ value: T?, _ write: (inout SnapshotWriter, T) -> Void) {
        bool(value != nil)
        if let value { write(&self, value) }
    }

    mutating func array<T>(_ values: [T], _ write: (inout SnapshotWriter, T) -> Void) {
        unsigned(UInt64(values.count))
        for value in values { write(&self, value) }
    }
}

/// Reads what `SnapshotWriter` wrote; any inconsistency (short, overlong, out of range) throws,
/// never traps: a snapshot comes from a file, which may be damaged.
struct SnapshotReader {
    struct Damaged: Error {}

    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { position == bytes.count }

    mutating func unsigned() throws -> UInt64 {
        var next = position
        defer { position = next }
        return try bytes.withUnsafeBufferPointer { try Self.varint(in: $0, at: &next) }
    }

    /// The varint at `next` in `bytes`, moving `next` past it: `unsigned`, and loops that read
    /// many numbers (`withUnreadBytes`). Short or longer than 64 bits: damaged.
    @inline(__always)
    static func varint(in bytes: UnsafeBufferPointer<UInt8>, at next: inout Int) throws -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard next < bytes.count, shift < 64 else { throw Damaged() }
            let byte = bytes[next]
            next += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
    }

    mutating func int() throws -> Int {
        let raw = try unsigned()
        return Int(Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1))))
    }

    /// A count of something that follows, each at least one byte: never more than remain.
    mutating func count(atMost limit: Int = .max) throws -> Int {
        let value = try unsigned()
        guard value <= UInt64(min(limit, bytes.count - position)) else { throw Damaged() }
        return Int(value)
    }

    mutating func bool() throws -> Bool {
        guard position < bytes.count, bytes[position] <= 1 else { throw Damaged() }
        position += 1
        return bytes[position - 1] == 1
    }

    private mutating func fixed(_ size: Int) throws -> UInt64 {
        guard bytes.count - position >= size else { throw Damaged() }
        var value: UInt64 = 0
        for index in 0..<size { value |= UInt64(bytes[position + index]) << (8 * UInt64(index)) }
        position += size
        return value
    }

    mutating func double() throws -> Double { Double(bitPattern: try fixed(8)) }
    mutating func float() throws -> Float { Float(bitPattern: UInt32(try fixed(4))) }

    mutating func string() throws -> String {
        let length = try count()
        defer { position += length }
        return String(decoding: bytes[position..<(position + length)], as: UTF8.self)
    }

    /// What `SnapshotWriter.floats` wrote: at most `limit` of them.
    mutating func floats(atMost limit: Int) throws -> [Float] {
        let count = try count(atMost: limit)
        guard bytes.count - position >= 4 * count else { throw Damaged() }
        var values: [Float] = []
        #if _endian(little)
        values = Array(unsafeUninitializedCapacity: count) { buffer, initialized in
            bytes.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(
                    from: UnsafeRawBufferPointer(rebasing: source[position..<(position + 4 * count)]))
            }
            initialized = count
        }
        position += 4 * count
        #else
        for _ in 0..<count { values.append(try float()) }
        #endif
        return values
    }

    mutating func optional<T>(_ read: (inout SnapshotReader) throws -> T) throws -> T? {
        try bool() ? try read(&self) : nil
    }

    mutating func array<T>(atMost limit: Int = .max, _ read: (inout SnapshotReader) throws -> T) throws -> [T] {
        let count = try count(atMost: limit)
        var values: [T] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try read(&self)) }
        return values
    }

    /// Calls `body` with the bytes not yet read and the position of the next one in them, which
    /// `body` moves past what it read (never past their end): for loops that read many numbers.
    mutating func withUnreadBytes<T>(_ body: (UnsafeBufferPointer<UInt8>, inout Int) throws -> T) throws -> T {
        var next = position
        defer { position = min(next, bytes.count) }
        return try bytes.withUnsafeBufferPointer { try body($0, &next) }
    }

    /// Throws unless `condition` holds: a value read is within what the writer could write.
    func check(_ condition: Bool) throws {
        guard condition else { throw Damaged() }
    }
}
