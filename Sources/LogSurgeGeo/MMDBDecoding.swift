import LogSurgeCore
/// How much one decode may produce: bounds the work a hostile database can cause.
///
/// Pointers let a small file describe a huge value (an array of pointers to one big map), so
/// decoding counts one unit per value and one per string or byte-array byte.
/// By default, 16 Mi units: far above any real record (a GeoIP2 City record is a few hundred).
struct DecodeBudget {
    var remaining = 16 * 1024 * 1024
}

/// Bounds-checked reader of the MaxMind DB data format (the data and metadata sections).
///
/// Every read is preceded by a check that the bytes lie inside the section being decoded;
/// a pointer must land inside the section and must not point to another pointer; nesting
/// (maps, arrays and followed pointers) is limited to `maximumDepth`.
struct MMDBDecoder {
    /// Type numbers from the MaxMind DB spec.
    enum DataType {
        static let pointer: UInt8 = 1
        static let string: UInt8 = 2
        static let double: UInt8 = 3
        static let bytes: UInt8 = 4
        static let uint16: UInt8 = 5
        static let uint32: UInt8 = 6
        static let map: UInt8 = 7
        static let int32: UInt8 = 8
        static let uint64: UInt8 = 9
        static let uint128: UInt8 = 10
        static let array: UInt8 = 11
        static let dataCacheContainer: UInt8 = 12
        static let endMarker: UInt8 = 13
        static let boolean: UInt8 = 14
        static let float: UInt8 = 15
    }

    /// Maps, arrays and pointers nested deeper than this are an error (real data nests ~5).
    static let maximumDepth = 64

    /// One decoded control byte. For a pointer, `size` is the absolute target offset.
    struct Field {
        var type: UInt8
        /// Payload bytes, entries of a map or array, the boolean value, or a pointer target.
        var size: Int
        /// Absolute offset of the payload (for a pointer: of the byte after it).
        var payload: Int
    }

    /// The database file (owned by the reader, which outlives every decoder it makes).
    let bytes: UnsafeRawBufferPointer
    let source: String

    init(bytes: UnsafeRawBufferPointer, source: String) {
        self.bytes = bytes
        self.source = source
    }

    func error(_ offset: Int, _ reason: String) -> MMDBError {
        MMDBError(.invalidData(offset: offset, reason: reason), source: source)
    }

    /// Checks that `count` bytes at `offset` lie inside `section`.
    @inline(__always)
    func need(_ offset: Int, _ count: Int, _ section: Section) throws(MMDBError) {
        guard offset >= section.start, count >= 0, offset <= section.end, count <= section.end &- offset else {
            throw error(offset, "\(count) bytes needed beyond the end of the section")
        }
    }

    /// Reads a big-endian unsigned integer of `count` (<= 8) bytes already checked by `need`.
    @inline(__always)
    func unsigned(at offset: Int, count: Int) -> UInt64 {
        var value: UInt64 = 0
        var index = 0
        while index < count {
            // In bounds: callers ran need(offset, count, section) and the section is inside `bytes`.
            value = value << 8 | UInt64(bytes[offset &+ index])
            index += 1
        }
        return value
    }

    /// Decodes the control byte(s) at `offset`.
    @inline(__always)
    func field(at offset: Int, in section: Section) throws(MMDBError) -> Field {
        try need(offset, 1, section)
        let control = bytes[offset]  // In bounds: need(offset, 1) above.
        var cursor = offset + 1
        var type = control >> 5
        if type == DataType.pointer {
            let sizeBits = Int((control >> 3) & 0x3)
            let length = sizeBits + 1
            try need(cursor, length, section)
            var value = Int(unsigned(at: cursor, count: length))
            let high = Int(control & 0x7)
            switch sizeBits {
            case 0: value |= high << 8
            case 1: value = (value | high << 16) + 2_048
            case 2: value = (value | high << 24) + 526_336
            default: break
            }
            let target = section.start + value
            guard target < section.end else { throw error(offset, "pointer to \(value) leaves the section") }
            return Field(type: DataType.pointer, size: target, payload: cursor + length)
        }
        if type == 0 {
            try need(cursor, 1, section)
            let extended = bytes[cursor]  // In bounds: need(cursor, 1) above.
            guard extended >= 1 && extended <= 8 else { throw error(offset, "invalid extended type \(extended)") }
            type = 7 + extended
            cursor += 1
        }
        var size = Int(control & 0x1F)
        if size >= 29 {
            let length = size - 28
            try need(cursor, length, section)
            let extra = Int(unsigned(at: cursor, count: length))
            size = size == 29 ? 29 + extra : size == 30 ? 285 + extra : 65_821 + extra
            cursor += length
        }
        return Field(type: type, size: size, payload: cursor)
    }

    /// The field at `offset`, following a pointer once; also returns the offset after the
    /// field as written (after the pointer when there was one, else after the control bytes).
    @inline(__always)
    func resolvedField(at offset: Int, in section: Section) throws(MMDBError) -> Field {
        let first = try field(at: offset, in: section)
        guard first.type == DataType.pointer else { return first }
        let target = try field(at: first.size, in: section)
        guard target.type != DataType.pointer else { throw error(first.size, "pointer to a pointer") }
        return target
    }

    /// Checks a scalar field's size and bounds; returns the offset after its payload.
    func scalarEnd(_ field: Field, at offset: Int, in section: Section) throws(MMDBError) -> Int {
        let limit: Int
        switch field.type {
        case DataType.string, DataType.bytes: limit = Int.max
        case DataType.double:
            guard field.size == 8 else { throw error(offset, "double of size \(field.size)") }
            limit = 8
        case DataType.float:
            guard field.size == 4 else { throw error(offset, "float of size \(field.size)") }
            limit = 4
        case DataType.uint16: limit = 2
        case DataType.uint32, DataType.int32: limit = 4
        case DataType.uint64: limit = 8
        case DataType.uint128: limit = 16
        case DataType.boolean:
            guard field.size <= 1 else { throw error(offset, "boolean of value \(field.size)") }
            return field.payload
        default:
            throw error(offset, "type \(field.type) is not valid here")
        }
        guard field.size <= limit else { throw error(offset, "type \(field.type) of size \(field.size)") }
        try need(field.payload, field.size, section)
        return field.payload + field.size
    }

    // MARK: - Full decoding

    /// Decodes the value at `offset`; returns it and the offset after it (after the pointer,
    /// when the value was reached through one).
    func decode(
        at offset: Int, in section: Section, depth: Int, budget: inout DecodeBudget
    ) throws(MMDBError) -> (value: MMDBValue, next: Int) {
        guard depth < MMDBDecoder.maximumDepth else { throw error(offset, "nested deeper than \(MMDBDecoder.maximumDepth)") }
        budget.remaining -= 1
        guard budget.remaining >= 0 else { throw error(offset, "the value is too large to decode") }
        let written = try field(at: offset, in: section)
        if written.type == DataType.pointer {
            let target = try field(at: written.size, in: section)
            guard target.type != DataType.pointer else { throw error(written.size, "pointer to a pointer") }
            let value = try decodeField(target, at: written.size, in: section, depth: depth + 1, budget: &budget).value
            return (value, written.payload)
        }
        return try decodeField(written, at: offset, in: section, depth: depth, budget: &budget)
    }

    private func decodeField(
        _ field: Field, at offset: Int, in section: Section, depth: Int, budget: inout DecodeBudget
    ) throws(MMDBError) -> (value: MMDBValue, next: Int) {
        switch field.type {
        case DataType.map:
            var entries: [String: MMDBValue] = [:]
            var cursor = field.payload
            for _ in 0..<field.size {
                let (key, afterKey) = try decodeKey(at: cursor, in: section, budget: &budget)
                let (value, afterValue) = try decode(at: afterKey, in: section, depth: depth + 1, budget: &budget)
                entries[key] = value
                cursor = afterValue
            }
            return (.map(entries), cursor)
        case DataType.array:
            var items: [MMDBValue] = []
            var cursor = field.payload
            for _ in 0..<field.size {
                let (value, afterValue) = try decode(at: cursor, in: section, depth: depth + 1, budget: &budget)
                items.append(value)
                cursor = afterValue
            }
            return (.array(items), cursor)
        default:
            break
        }
        let end = try scalarEnd(field, at: offset, in: section)
        let start = field.payload
        let size = field.size
        switch field.type {
        case DataType.string:
            budget.remaining -= size
            guard budget.remaining >= 0 else { throw error(offset, "the value is too large to decode") }
            guard let text = string(at: start, count: size) else { throw error(offset, "invalid UTF-8 in a string") }
            return (.string(text), end)
        case DataType.bytes:
            budget.remaining -= size
            guard budget.remaining >= 0 else { throw error(offset, "the value is too large to decode") }
            // In bounds: scalarEnd checked need(start, size).
            return (.bytes(Array(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))), end)
        case DataType.double:
            return (.double(Double(bitPattern: unsigned(at: start, count: 8))), end)
        case DataType.float:
            return (.float(Float(bitPattern: UInt32(unsigned(at: start, count: 4)))), end)
        case DataType.uint16:
            return (.uint16(UInt16(unsigned(at: start, count: size))), end)
        case DataType.uint32:
            return (.uint32(UInt32(unsigned(at: start, count: size))), end)
        case DataType.int32:
            // Shorter encodings are zero-padded on the left, as the spec says.
            return (.int32(Int32(bitPattern: UInt32(unsigned(at: start, count: size)))), end)
        case DataType.uint64:
            return (.uint64(unsigned(at: start, count: size)), end)
        case DataType.uint128:
            let lowCount = min(size, 8)
            let highCount = size - lowCount
            let high = unsigned(at: start, count: highCount)
            let low = unsigned(at: start + highCount, count: lowCount)
            return (.uint128(high: high, low: low), end)
        case DataType.boolean:
            return (.bool(size == 1), end)
        default:
            throw error(offset, "type \(field.type) is not valid here")
        }
    }

    /// Decodes a map key (a string, possibly through a pointer); returns it and the offset after it.
    private func decodeKey(
        at offset: Int, in section: Section, budget: inout DecodeBudget
    ) throws(MMDBError) -> (String, Int) {
        let (start, count, next) = try keyBytes(at: offset, in: section)
        budget.remaining -= count + 1
        guard budget.remaining >= 0 else { throw error(offset, "the value is too large to decode") }
        guard let key = string(at: start, count: count) else { throw error(offset, "invalid UTF-8 in a map key") }
        return (key, next)
    }

    /// Locates a map key: its absolute start, byte count, and the offset after the key as written.
    @inline(__always)
    func keyBytes(at offset: Int, in section: Section) throws(MMDBError) -> (start: Int, count: Int, next: Int) {
        let written = try field(at: offset, in: section)
        var key = written
        var keyOffset = offset
        var next = 0
        if written.type == DataType.pointer {
            keyOffset = written.size
            key = try field(at: written.size, in: section)
            next = written.payload
        }
        guard key.type == DataType.string else { throw error(keyOffset, "a map key of type \(key.type)") }
        try need(key.payload, key.size, section)
        if written.type != DataType.pointer { next = key.payload + key.size }
        return (key.payload, key.size, next)
    }

    /// Validated UTF-8 text of `count` bytes at `start` (already bounds-checked), or nil.
    private func string(at start: Int, count: Int) -> String? {
        // In bounds: callers checked need(start, count).
        String(validating: UnsafeRawBufferPointer(rebasing: bytes[start..<(start + count)]), as: UTF8.self)
    }

    // MARK: - Skipping and the country fast path

    /// The offset after the value at `offset`, without decoding it (pointers are not followed).
    func skip(at offset: Int, in section: Section, depth: Int) throws(MMDBError) -> Int {
        guard depth < MMDBDecoder.maximumDepth else { throw error(offset, "nested deeper than \(MMDBDecoder.maximumDepth)") }
        let field = try field(at: offset, in: section)
        switch field.type {
        case DataType.pointer:
            return field.payload
        case DataType.map:
            var cursor = field.payload
            for _ in 0..<field.size {
                cursor = try keyBytes(at: cursor, in: section).next
                cursor = try skip(at: cursor, in: section, depth: depth + 1)
            }
            return cursor
        case DataType.array:
            var cursor = field.payload
            for _ in 0..<field.size {
                cursor = try skip(at: cursor, in: section, depth: depth + 1)
            }
            return cursor
        default:
            return try scalarEnd(field, at: offset, in: section)
        }
    }

    /// True when the `count` key bytes at `start` (bounds-checked by `keyBytes`) equal `literal`.
    @inline(__always)
    func key(at start: Int, count: Int, equals literal: StaticString) -> Bool {
        guard count == literal.utf8CodeUnitCount else { return false }
        return literal.withUTF8Buffer { expected in
            var index = 0
            while index < count {
                // In bounds: index < count == expected.count, and keyBytes checked need(start, count).
                guard bytes[start &+ index] == expected[index] else { return false }
                index += 1
            }
            return true
        }
    }

    /// The country of the record at `offset`: country.iso_code, else registered_country.iso_code.
    func countryCode(atRecord offset: Int, in section: Section) throws(MMDBError) -> CountryCode {
        let record = try resolvedField(at: offset, in: section)
        guard record.type == DataType.map else { return .unknown }
        var registered = -1
        var cursor = record.payload
        for _ in 0..<record.size {
            let key = try keyBytes(at: cursor, in: section)
            if key.count == 7, self.key(at: key.start, count: key.count, equals: "country") {
                if let code = try isoCode(inMapAt: key.next, in: section) { return code }
            } else if key.count == 18, self.key(at: key.start, count: key.count, equals: "registered_country") {
                registered = key.next
            }
            cursor = try skip(at: key.next, in: section, depth: 1)
        }
        if registered >= 0, let code = try isoCode(inMapAt: registered, in: section) { return code }
        return .unknown
    }

    /// `iso_code` of the map at `offset` when it is two ASCII letters, else nil.
    private func isoCode(inMapAt offset: Int, in section: Section) throws(MMDBError) -> CountryCode? {
        let map = try resolvedField(at: offset, in: section)
        guard map.type == DataType.map else { return nil }
        var cursor = map.payload
        for _ in 0..<map.size {
            let key = try keyBytes(at: cursor, in: section)
            if key.count == 8, self.key(at: key.start, count: key.count, equals: "iso_code") {
                let value = try resolvedField(at: key.next, in: section)
                guard value.type == DataType.string, value.size == 2 else { return nil }
                try need(value.payload, 2, section)
                // In bounds: need(value.payload, 2) above.
                return CountryCode(asciiFirst: bytes[value.payload], second: bytes[value.payload + 1])
            }
            cursor = try skip(at: key.next, in: section, depth: 2)
        }
        return nil
    }
}

extension MMDBReader {
    /// The country of the data record at absolute `offset` (from `dataOffset(for:)`).
    @inline(__always)
    func countryCode(atDataOffset offset: Int) throws(MMDBError) -> CountryCode {
        try decoder.countryCode(atRecord: offset, in: dataSection)
    }

    /// The whole data record at absolute `offset`.
    func decodeRecord(atDataOffset offset: Int) throws(MMDBError) -> MMDBValue {
        var budget = DecodeBudget()
        return try decoder.decode(at: offset, in: dataSection, depth: 0, budget: &budget).value
    }
}
