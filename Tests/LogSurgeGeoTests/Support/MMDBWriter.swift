import LogSurgeGeo

/// A small MaxMind DB writer for tests: builds databases from (network, record) lists.
///
/// Record sizes 24, 28 and 32; IPv4 trees (32 bits) and IPv6 trees (128 bits, IPv4 networks
/// placed under ::/96 as MaxMind's writer does). Later insertions override earlier ones where
/// they overlap. Identical records are stored once. With `pointers` other than `.none`, every
/// map key and every repeated string/map/array is written once and referenced by pointers;
/// `dataPadding` puts an unreferenced byte string at the start of the data section so that
/// later offsets need the wider pointer encodings.
struct MMDBWriter {
    enum PointerMode {
        case none
        /// The shortest pointer encoding for each offset.
        case smallest
        /// Always the 5-byte encoding (size bits 3).
        case always32
    }

    var ipVersion: Int
    var recordSize: Int
    var pointers: PointerMode = .none
    var dataPadding = 0
    var databaseType = "Test"
    var buildEpoch: UInt64 = 1_700_000_000
    var languages = ["en"]
    var descriptions = ["en": "Test database"]

    /// Pointers written, by size bits (0...3).
    private(set) var pointerCounts = [0, 0, 0, 0]

    private var left: [Int] = [empty]
    private var right: [Int] = [empty]
    private var records: [MMDBValue] = []
    private static let empty = -1

    init(ipVersion: Int, recordSize: Int) {
        precondition(ipVersion == 4 || ipVersion == 6)
        precondition([24, 28, 32].contains(recordSize))
        self.ipVersion = ipVersion
        self.recordSize = recordSize
    }

    /// Inserts `record` for `cidr` ("1.2.3.0/24", "2001:db8::/32", "::1.2.3.0/120").
    mutating func insert(_ cidr: String, _ record: MMDBValue) {
        let parts = cidr.split(separator: "/")
        precondition(parts.count == 2, "bad network \(cidr)")
        let text = String(parts[0])
        let length = Int(parts[1])!
        let isDotted = !text.contains(":")
        let address = IPAddress(text)!
        var bits = (address.high, address.low)
        var prefixLength = length
        if ipVersion == 4 {
            precondition(isDotted && length <= 32, "IPv4 tree takes IPv4 networks only")
            bits = (UInt64(address.ipv4!) << 32, 0)
        } else if isDotted {
            precondition(length <= 32)
            bits = (0, UInt64(address.ipv4!))  // ::a.b.c.d
            prefixLength = 96 + length
        }
        insert(high: bits.0, low: bits.1, prefixLength: prefixLength, record: record)
    }

    /// Inserts `record` for the network whose bits start at the top of (`high`, `low`).
    mutating func insert(high: UInt64, low: UInt64, prefixLength: Int, record: MMDBValue) {
        precondition(prefixLength >= 1 && prefixLength <= (ipVersion == 4 ? 32 : 128))
        let leaf = -2 - records.count
        records.append(record)
        var node = 0
        for depth in 0..<prefixLength {
            let bit = depth < 64 ? (high >> (63 - UInt64(depth))) & 1 : (low >> (127 - UInt64(depth))) & 1
            if depth == prefixLength - 1 {
                if bit == 0 { left[node] = leaf } else { right[node] = leaf }
                return
            }
            var child = bit == 0 ? left[node] : right[node]
            if child < 0 {
                // An empty slot or a larger network: split it into a node carrying it down.
                left.append(child)
                right.append(child)
                child = left.count - 1
                if bit == 0 { left[node] = child } else { right[node] = child }
            }
            node = child
        }
    }

    /// The database file.
    mutating func build() -> [UInt8] {
        var data: [UInt8] = []
        var written: [[UInt8]: Int] = [:]
        if dataPadding > 0 {
            data += MMDBWriter.encode(.bytes([UInt8](repeating: 0xEE, count: dataPadding)))
        }
        var recordOffsets: [Int] = []
        var recordByEncoding: [[UInt8]: Int] = [:]
        for record in records {
            let plain = MMDBWriter.encode(record)
            if let offset = recordByEncoding[plain] {
                recordOffsets.append(offset)
                continue
            }
            let offset = data.count
            write(record, into: &data, written: &written)
            recordByEncoding[plain] = offset
            recordOffsets.append(offset)
        }

        // Breadth-first node numbering from the root.
        var order = [0]
        var number = [0: 0]
        var head = 0
        while head < order.count {
            let node = order[head]
            head += 1
            for child in [left[node], right[node]] where child >= 0 && number[child] == nil {
                number[child] = order.count
                order.append(child)
            }
        }
        let nodeCount = order.count
        func value(_ child: Int) -> UInt64 {
            if child == MMDBWriter.empty { return UInt64(nodeCount) }
            if child < 0 { return UInt64(nodeCount + 16 + recordOffsets[-child - 2]) }
            return UInt64(number[child]!)
        }
        var file: [UInt8] = []
        for node in order {
            file += MMDBWriter.nodeBytes(left: value(left[node]), right: value(right[node]), recordSize: recordSize)
        }
        file += [UInt8](repeating: 0, count: 16)
        file += data
        file += [0xAB, 0xCD, 0xEF] + Array("MaxMind.com".utf8)
        var description: [String: MMDBValue] = [:]
        for (language, text) in descriptions { description[language] = .string(text) }
        file += MMDBWriter.encode(
            .map([
                "binary_format_major_version": .uint16(2),
                "binary_format_minor_version": .uint16(0),
                "build_epoch": .uint64(buildEpoch),
                "database_type": .string(databaseType),
                "description": .map(description),
                "ip_version": .uint16(UInt16(ipVersion)),
                "languages": .array(languages.map { .string($0) }),
                "node_count": .uint32(UInt32(nodeCount)),
                "record_size": .uint16(UInt16(recordSize)),
            ]))
        return file
    }

    static func nodeBytes(left: UInt64, right: UInt64, recordSize: Int) -> [UInt8] {
        func bigEndian(_ value: UInt64, _ count: Int) -> [UInt8] {
            (0..<count).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64(count - 1 - $0))) }
        }
        switch recordSize {
        case 24: return bigEndian(left, 3) + bigEndian(right, 3)
        case 28:
            let middle = UInt8((left >> 24) << 4 | (right >> 24))
            return bigEndian(left & 0xFF_FFFF, 3) + [middle] + bigEndian(right & 0xFF_FFFF, 3)
        default: return bigEndian(left, 4) + bigEndian(right, 4)
        }
    }

    // MARK: - Data encoding

    /// Writes `value` at the end of `data`, reusing earlier copies through pointers when enabled.
    private mutating func write(_ value: MMDBValue, into data: inout [UInt8], written: inout [[UInt8]: Int]) {
        let plain = MMDBWriter.encode(value)
        if pointers != .none, let offset = written[plain] {
            data += pointer(to: offset)
            return
        }
        let start = data.count
        switch value {
        case .map(let entries):
            data += MMDBWriter.control(type: 7, size: entries.count)
            for key in entries.keys.sorted() {
                write(.string(key), into: &data, written: &written)
                write(entries[key]!, into: &data, written: &written)
            }
        case .array(let items):
            data += MMDBWriter.control(type: 11, size: items.count)
            for item in items { write(item, into: &data, written: &written) }
        default:
            data += plain
        }
        // Only values longer than a pointer are worth sharing.
        if plain.count > 5, written[plain] == nil { written[plain] = start }
        if case .string = value, written[plain] == nil { written[plain] = start }
    }

    private mutating func pointer(to offset: Int) -> [UInt8] {
        if pointers == .smallest {
            if offset < 2_048 {
                pointerCounts[0] += 1
                return [0x20 | UInt8(offset >> 8), UInt8(offset & 0xFF)]
            }
            if offset < 526_336 {
                pointerCounts[1] += 1
                let value = offset - 2_048
                return [0x28 | UInt8(value >> 16), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
            }
            if offset < 134_744_064 {
                pointerCounts[2] += 1
                let value = offset - 526_336
                return [0x30 | UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
            }
        }
        pointerCounts[3] += 1
        return [0x38] + (0..<4).map { UInt8(truncatingIfNeeded: offset >> (8 * (3 - $0))) }
    }

    /// The control byte(s) of a value of `type` and `size`.
    static func control(type: Int, size: Int) -> [UInt8] {
        let first: UInt8 = type <= 7 ? UInt8(type << 5) : 0
        let extended: [UInt8] = type <= 7 ? [] : [UInt8(type - 7)]
        if size < 29 { return [first | UInt8(size)] + extended }
        if size < 285 { return [first | 29] + extended + [UInt8(size - 29)] }
        if size < 65_821 {
            let extra = size - 285
            return [first | 30] + extended + [UInt8(extra >> 8), UInt8(extra & 0xFF)]
        }
        let extra = size - 65_821
        return [first | 31] + extended + [UInt8(extra >> 16), UInt8((extra >> 8) & 0xFF), UInt8(extra & 0xFF)]
    }

    /// The plain encoding of `value` (no pointers; map keys sorted).
    static func encode(_ value: MMDBValue) -> [UInt8] {
        func trimmed(_ value: UInt64, max: Int) -> [UInt8] {
            var bytes = (0..<max).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64(max - 1 - $0))) }
            while let first = bytes.first, first == 0 { bytes.removeFirst() }
            return bytes
        }
        switch value {
        case .string(let text):
            let utf8 = Array(text.utf8)
            return control(type: 2, size: utf8.count) + utf8
        case .double(let number):
            return control(type: 3, size: 8) + (0..<8).map { UInt8(truncatingIfNeeded: number.bitPattern >> (8 * UInt64(7 - $0))) }
        case .bytes(let bytes):
            return control(type: 4, size: bytes.count) + bytes
        case .uint16(let number):
            let bytes = trimmed(UInt64(number), max: 2)
            return control(type: 5, size: bytes.count) + bytes
        case .uint32(let number):
            let bytes = trimmed(UInt64(number), max: 4)
            return control(type: 6, size: bytes.count) + bytes
        case .map(let entries):
            var out = control(type: 7, size: entries.count)
            for key in entries.keys.sorted() { out += encode(.string(key)) + encode(entries[key]!) }
            return out
        case .int32(let number):
            let bytes = trimmed(UInt64(UInt32(bitPattern: number)), max: 4)
            return control(type: 8, size: bytes.count) + bytes
        case .uint64(let number):
            let bytes = trimmed(number, max: 8)
            return control(type: 9, size: bytes.count) + bytes
        case .uint128(let high, let low):
            let bytes = high == 0 ? trimmed(low, max: 8) : trimmed(high, max: 8) + trimmed(low, max: 8).leftPadded(to: 8)
            return control(type: 10, size: bytes.count) + bytes
        case .array(let items):
            return control(type: 11, size: items.count) + items.flatMap { encode($0) }
        case .bool(let flag):
            return control(type: 14, size: flag ? 1 : 0)
        case .float(let number):
            return control(type: 15, size: 4) + (0..<4).map { UInt8(truncatingIfNeeded: number.bitPattern >> (8 * UInt32(3 - $0))) }
        }
    }
}

extension Array where Element == UInt8 {
    fileprivate func leftPadded(to count: Int) -> [UInt8] {
        [UInt8](repeating: 0, count: Swift.max(0, count - self.count)) + self
    }
}

/// A record `{"country": {"iso_code": cc}, "registered_country": {"iso_code": rc}}` with the
/// parts that are nil left out.
func countryRecord(_ country: String?, registered: String? = nil, extra: [String: MMDBValue] = [:]) -> MMDBValue {
    var entries = extra
    if let country { entries["country"] = .map(["iso_code": .string(country), "names": .map(["en": .string("Name of \(country)")])]) }
    if let registered { entries["registered_country"] = .map(["iso_code": .string(registered)]) }
    return .map(entries)
}
