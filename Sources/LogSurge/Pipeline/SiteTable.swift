/// A worker's table of site names: maps (host bytes, section) to a small local index.
///
/// The common case (same host as the previous line) is a byte compare; a different host is a
/// 64-bit hash probe. A `String` is made only when a site is seen for the first time. Indices
/// are local to this table; `names` translates them when chunk results are merged. A full table
/// answers nil: the caller hands on what it counted so far and starts afresh with `reset()`, so
/// whether a site folds into `MinuteBuckets.overflowSite` is decided only when results merge,
/// in chunk order, never by one worker's history.
package struct SiteTable {
    package private(set) var names: [String] = []
    private var indexByName: [String: UInt16] = [:]
    private var byHash: [UInt64: Int] = [:]  // hash → first entry in `entries`
    private var entries: [(bytes: [UInt8], section: Int, index: UInt16, next: Int)] = []
    private let capacity: Int
    private let sectionNames: [String]
    private let defaultSite: [UInt8]

    private var lastHost: [UInt8] = []
    private var lastIndices: [UInt16] = []  // per section slot (0 = no section)
    private var hasLast = false

    package init(defaultSite: String, sectionNames: [String], capacity: Int = Int(UInt16.max)) {
        self.defaultSite = Array(defaultSite.utf8)
        self.sectionNames = sectionNames
        self.capacity = capacity
        lastIndices = Array(repeating: 0, count: sectionNames.count + 1)
    }

    /// Forgets every site.
    package mutating func reset() {
        names = []
        indexByName = [:]
        byHash = [:]
        entries = []
        hasLast = false
    }

    /// The local index of the site for `host` (nil: the format has no host) and `section`
    /// (0: none, i: the i-th `--section`).
    @inline(__always)
    package mutating func index(host: UnsafeRawBufferPointer?, section: Int) -> UInt16? {
        let key = host ?? UnsafeRawBufferPointer(start: nil, count: 0)
        if hasLast, key.elementsEqual(lastHost) {
            let cached = lastIndices[section]
            if cached != 0 { return cached - 1 }
        } else {
            lastHost.removeAll(keepingCapacity: true)
            lastHost.append(contentsOf: key)
            for i in lastIndices.indices { lastIndices[i] = 0 }
            hasLast = true
        }
        guard let index = lookup(key, isHost: host != nil, section: section) else { return nil }
        lastIndices[section] = index + 1
        return index
    }

    private mutating func lookup(_ host: UnsafeRawBufferPointer, isHost: Bool, section: Int) -> UInt16? {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(section) ^ (isHost ? 0x5bd1_e995 : 0)
        for byte in host { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        var cursor = byHash[hash] ?? -1
        while cursor >= 0 {
            let entry = entries[cursor]
            if entry.section == section, entry.bytes.elementsEqual(host) { return entry.index }
            cursor = entry.next
        }
        let name = siteName(host: isHost ? host : nil, section: section)
        let index: UInt16
        if let existing = indexByName[name] {
            index = existing  // e.g. invalid UTF-8 spellings that decode alike
        } else if names.count < capacity {
            index = add(name)
        } else {
            return nil
        }
        entries.append((Array(host), section, index, byHash[hash] ?? -1))
        byHash[hash] = entries.count - 1
        return index
    }

    private mutating func add(_ name: String) -> UInt16 {
        let index = UInt16(names.count)
        names.append(name)
        indexByName[name] = index
        return index
    }

    private func siteName(host: UnsafeRawBufferPointer?, section: Int) -> String {
        let base = host.map { String(decoding: $0, as: UTF8.self) }
        guard section > 0 else { return base ?? String(decoding: defaultSite, as: UTF8.self) }
        let sectionName = sectionNames[section - 1]
        guard let base, !base.isEmpty else { return sectionName }
        return base + "/" + sectionName
    }
}
