import LogSurge
import LogSurgeGeo
import LogSurgeParse
import LogSurgeGenerate

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The per-line loops the stages are timed with, kept out of main.swift: a closure made in its
/// top-level code is isolated to the main actor, which Swift checks at run time on every call,
/// a cost that would land on every line.
enum Lines {
    /// Calls `body` with each line of `buffer` (which ends with a newline), without the newline.
    @inline(__always)
    static func forEach(_ buffer: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
        guard let base = buffer.baseAddress else { return }
        var start = 0
        while start < buffer.count {
            // memchr finds a newline: the buffer's last byte is one.
            let end = base.distance(to: UnsafeRawPointer(memchr(base + start, 0x0A, buffer.count - start)!))
            body(UnsafeRawBufferPointer(rebasing: buffer[start..<end]))
            start = end + 1
        }
    }

    /// The number of lines in `buffer`.
    static func count(_ buffer: UnsafeRawBufferPointer) -> Int {
        var lines = 0
        forEach(buffer) { _ in lines += 1 }
        return lines
    }

    /// The lines of `buffer` that `parser` parses.
    static func parsed<Parser: LineParsing>(_ buffer: UnsafeRawBufferPointer, with parser: inout Parser) -> Int {
        var parsed = 0
        forEach(buffer) { line in if case .parsed = parser.parse(line) { parsed += 1 } }
        return parsed
    }

    /// The parsed lines whose client address reads as an address: what a worker does per line
    /// without `--real-ip` before looking the country up.
    static func clientAddresses(_ buffer: UnsafeRawBufferPointer, with parser: inout AccessLogParser) -> Int {
        var addresses = 0
        forEach(buffer) { line in
            guard case .parsed(let fields) = parser.parse(line), let client = fields.client,
                IPAddress(parsing: UnsafeRawBufferPointer(rebasing: line[client])) != nil
            else { return }
            addresses += 1
        }
        return addresses
    }

    /// The lines whose client came from the chain of their forwarded header: parse, then the
    /// connecting address and the walk, as a worker does with `--real-ip`.
    static func forwardedClients(_ buffer: UnsafeRawBufferPointer, with parser: inout TemplateParser, chain: ForwardedChain) -> Int {
        var forwarded = 0
        forEach(buffer) { line in
            guard case .parsed(let fields) = parser.parse(line) else { return }
            let connecting = fields.client.flatMap { IPAddress(parsing: UnsafeRawBufferPointer(rebasing: line[$0])) }
            let (_, source) = chain.client(
                chain: fields.forwarded.map { UnsafeRawBufferPointer(rebasing: line[$0]) },
                connecting: connecting, connectingLogged: fields.client != nil)
            if source == .forwarded { forwarded += 1 }
        }
        return forwarded
    }

    /// At least `bytes` bytes of whole lines from the generator, written in `layout`.
    static func generated(_ layout: GeneratedLayout, bytes: Int) -> [UInt8] {
        var configuration = GeneratorConfiguration()
        configuration.layout = layout
        configuration.peakRate = 1100
        configuration.malformedRate = 0
        var generator = TrafficGenerator(configuration: configuration)
        var out: [UInt8] = []
        out.reserveCapacity(bytes + (1 << 20))
        var minute = configuration.start
        while out.count < bytes {
            generator.appendLines(minute: minute, to: &out)
            minute += 1
        }
        return out
    }
}
