import Foundation
import LogSurgeInput

/// Writes a generator's output as one stream or as a rotated set of daily files.
public enum GeneratedLogWriter {
    /// Where the lines go.
    public enum Layout: Sendable {
        /// One stream: a file (`-` for standard output), gzip-compressed when `gzip`.
        case single(path: String, gzip: Bool)
        /// Daily files in `directory` as logrotate with `delaycompress` leaves them: the last
        /// day in `name`, the day before in `name.1`, older days in `name.N.gz`.
        case rotated(directory: String, name: String)
    }

    /// Generates every minute of `configuration` into `layout`; returns the lines written.
    @discardableResult
    public static func write(_ configuration: GeneratorConfiguration, to layout: Layout) throws -> Int {
        var generator = TrafficGenerator(configuration: configuration)
        var lines = 0
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        let minutes = configuration.start..<(configuration.start + Int32(configuration.minutes))

        switch layout {
        case .single(let path, let gzip):
            let file = DailyFile(sink: try OutputSink(path: path), gzip: gzip)
            buffer += generator.header(minute: minutes.lowerBound)
            for minute in minutes {
                generator.appendLines(minute: minute, to: &buffer)
                if buffer.count >= 1 << 20 { lines += try file.write(&buffer) }
            }
            lines += try file.write(&buffer)
            try file.close()

        case .rotated(let directory, let name):
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let offset = Int32(configuration.serverOffsetMinutes)
            func localDay(_ minute: Int32) -> Int32 { Int32((Double(minute + offset) / 1440).rounded(.down)) }
            let lastDay = localDay(minutes.upperBound - 1)
            var current: (day: Int32, file: DailyFile)?
            for minute in minutes {
                let day = localDay(minute)
                if current?.day != day {
                    if let open = current {
                        lines += try open.file.write(&buffer)
                        try open.file.close()
                    }
                    let age = Int(lastDay - day)
                    let fileName = age == 0 ? name : age == 1 ? "\(name).1" : "\(name).\(age).gz"
                    let sink = try OutputSink(path: (directory as NSString).appendingPathComponent(fileName))
                    current = (day, DailyFile(sink: sink, gzip: age >= 2))
                    buffer += generator.header(minute: minute)
                }
                generator.appendLines(minute: minute, to: &buffer)
                if buffer.count >= 1 << 20 { lines += try current!.file.write(&buffer) }
            }
            if let open = current {
                lines += try open.file.write(&buffer)
                try open.file.close()
            }
        }
        return lines
    }
}

/// One output file, plain or gzip.
private final class DailyFile {
    let sink: OutputSink
    let compressor: GzipWriter?

    init(sink: OutputSink, gzip: Bool) {
        self.sink = sink
        compressor = gzip ? GzipWriter() : nil
    }

    /// Writes and empties `buffer`; returns the lines it held (W3C directive lines not counted).
    func write(_ buffer: inout [UInt8]) throws -> Int {
        var lines = 0, atStart = true, directive = false
        for byte in buffer {
            if atStart {
                directive = byte == 0x23  // "#"
                atStart = false
            }
            if byte == 0x0A {
                if !directive { lines += 1 }
                atStart = true
            }
        }
        if let compressor {
            try compressor.write(buffer) { try sink.write(bytes: $0) }
        } else {
            try sink.write(bytes: buffer)
        }
        buffer.removeAll(keepingCapacity: true)
        return lines
    }

    func close() throws {
        try compressor?.finish { try sink.write(bytes: $0) }
        try sink.close()
    }
}
