import ArgumentParser
import Foundation
import LogSurgeCore
import LogSurgeDeliver
import LogSurgeDetect
import LogSurgeReport

/// `--alertmanager`, `--webhook` and `--instance`: alerts delivered as they are raised.
struct DeliveryOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Post each episode to this Prometheus Alertmanager (its /api/v2/alerts) when it opens, again while it stays open, and when it closes; repeatable.",
            valueName: "URL"))
    var alertmanager: [String] = []

    @Option(
        help: ArgumentHelp(
            "POST each alert line, as --alerts writes it, to this URL as application/json the moment it is raised or closed; repeatable.",
            valueName: "URL"))
    var webhook: [String] = []

    @Option(help: ArgumentHelp("The instance label of the alerts posted to Alertmanager (default: the host name).", valueName: "NAME"))
    var instance: String?

    // The tests shorten these: seconds before the first retry, and between the keep-alive
    // posts of open episodes; attempts per post; seconds the queues may drain at the end.
    @Option(help: .hidden) var deliveryBackoff: Double = AlertDelivery.Options().firstBackoff
    @Option(help: .hidden) var deliveryKeepAlive: Double = AlertDelivery.Options().keepAliveInterval
    @Option(help: .hidden) var deliveryAttempts: Int = AlertDelivery.Options().attempts
    @Option(help: .hidden) var deliveryDrain: Double = AlertDelivery.Options().drainTimeout
    @Option(help: .hidden) var deliveryTimeout: Double = AlertDelivery.Options().timeout

    func validate() throws {
        if let instance, instance.isEmpty { throw ValidationError("--instance must not be empty") }
        if !(deliveryBackoff >= 0.01 && deliveryBackoff <= 60) { throw ValidationError("--delivery-backoff must be between 0.01 and 60") }
        if !(deliveryKeepAlive >= 0.05 && deliveryKeepAlive <= 60) {
            throw ValidationError("--delivery-keep-alive must be between 0.05 and 60")
        }
        if !(1...100).contains(deliveryAttempts) { throw ValidationError("--delivery-attempts must be between 1 and 100") }
        if !(deliveryDrain >= 0 && deliveryDrain <= 3600) { throw ValidationError("--delivery-drain must be between 0 and 3600") }
        if !(deliveryTimeout >= 0.1 && deliveryTimeout <= 600) { throw ValidationError("--delivery-timeout must be between 0.1 and 600") }
    }

    /// The deliveries asked for, their threads started; nil without a receiver. An address that
    /// cannot be posted to is a usage error, before any input is read. A run that goes on
    /// (`streaming`) keeps at most 1,000 posts waiting for a receiver; a batch run, which raises
    /// a whole archive's alerts at once, 100,000.
    func start(streaming: Bool) throws -> AlertDelivery? {
        guard !alertmanager.isEmpty || !webhook.isEmpty else { return nil }
        var options = AlertDelivery.Options()
        if !streaming { options.queueLimit = AlertDelivery.Options.batchQueueLimit }
        options.firstBackoff = deliveryBackoff
        options.keepAliveInterval = deliveryKeepAlive
        options.attempts = deliveryAttempts
        options.drainTimeout = deliveryDrain
        options.timeout = deliveryTimeout
        do {
            return try AlertDelivery(
                alertmanagers: alertmanager, webhooks: webhook, instance: instance ?? AlertDelivery.hostName, options: options)
        } catch { throw UsageError(description: error.description) }
    }
}

extension AlertDelivery {
    /// Hands `event` over as its alert line.
    func deliver(_ event: AlertEvent) {
        deliver(event, line: AlertWriter.object(event).encoded)
    }

    /// Drains the queues and says on standard error what could not be delivered; the counts,
    /// and whether anything was given up.
    func finishReporting() -> (counts: DeliveryCounts, failed: Bool) {
        let problems = finish { waiting in
            warn("delivering \(waiting) alert post\(waiting == 1 ? "" : "s") still waiting (Ctrl-C to stop)")
        }
        for problem in problems { warn("alert delivery: \(problem.description)") }
        return (counts, !problems.isEmpty)
    }
}
