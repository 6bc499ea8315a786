import Foundation

/// What a gateway bridge reports of the devices it reaches (Keyway's design; Bold's own Connect protocol is not
/// public). Every field but `deviceId` is optional: a bridge sends what it measured.
public struct GatewayReport: Sendable {
    public struct Entry: Sendable {
        public var deviceID: Int64
        /// The bolt is thrown.
        public var locked: Bool?
        /// In Bold's words: Excellent, High, Medium, Low, Critical.
        public var batteryLevel: String?
        /// Millivolts, at rest and under the motor's load.
        public var voltageIdle: Int?
        public var voltageUnderLoad: Int?
        /// Seconds since the lock started.
        public var uptime: Int?
        /// The lock's signal to the gateway, dBm.
        public var rssi: Int?
        /// Tamper alarms: FaultyPin, Rotations, Vibration.
        public var tamper: [String]
        /// Diagnostic readings, recorded as a `DeviceDebug` event.
        public var debug: DeviceReadings?

        public init(
            deviceID: Int64, locked: Bool? = nil, batteryLevel: String? = nil, voltageIdle: Int? = nil,
            voltageUnderLoad: Int? = nil, uptime: Int? = nil, rssi: Int? = nil, tamper: [String] = [],
            debug: DeviceReadings? = nil
        ) {
            self.deviceID = deviceID
            self.locked = locked
            self.batteryLevel = batteryLevel
            self.voltageIdle = voltageIdle
            self.voltageUnderLoad = voltageUnderLoad
            self.uptime = uptime
            self.rssi = rssi
            self.tamper = tamper
            self.debug = debug
        }
    }

    public var devices: [Entry]
    public init(devices: [Entry]) { self.devices = devices }

    /// The most entries one report may carry.
    public static let maximumDevices = 100
    /// The shortest bridge secret a report is accepted with: a shorter one could be guessed online through this
    /// unauthenticated endpoint, so such a gateway cannot report (its commands are still signed with it).
    public static let minimumSecretBytes = 16
    /// How far a signed report's timestamp may be from the server's clock, seconds.
    public static let window: Int64 = 300
    static let voltages = 0...10_000
    static let uptimes = 0...(10 * 366 * 86_400)
    static let signals = -150...0
}

/// How a report proves it comes from the gateway's bridge: by a signature the handler checks against the
/// gateway's bridge secret, or not at all (the development endpoint, only with the manual clock).
public enum ReportProof: Sendable {
    case signed(timestamp: Int64, verify: @Sendable (_ secret: String) -> Bool)
    case development
}

extension RemoteService {
    /// The answer to a signature that does not verify, whatever the reason (no such gateway, no bridge secret,
    /// a wrong signature): the caller learns nothing about which ids exist.
    static let badSignature = DomainError(
        .unauthorized, code: .invalidSignature,
        message: "The report's signature does not verify (X-Keyway-Timestamp, X-Keyway-Signature)")

    /// Applies a gateway's report: updates the devices' battery, bolt state and signal, and records (and queues
    /// for webhooks) `DeviceLocked` when the bolt changed, `DeviceStatus` for readings, `DeviceDebug` and the
    /// tamper events; the gateway is seen now. Throws 401 `InvalidSignature` (also for an unknown gateway),
    /// 401 `StaleReport` (timestamp outside the window, or not newer than the last report: a replay), 400
    /// naming the field (`devices[2].rssi`); nothing is written then.
    @discardableResult
    public func report(_ report: GatewayReport, from gatewayID: DeviceID, proof: ReportProof) async throws -> [Event] {
        let now = time.now()
        let gateway = try await store.device(gatewayID)
        let gatewayState = try await store.deviceState(gatewayID)
        let timestamp: Int64
        switch proof {
        case .signed(let signed, let verify):
            guard let gateway, gateway.type == .gateway, gateway.dateDecommissioned == nil,
                let secret = gatewayState?.bridgeSecret, secret.utf8.count >= GatewayReport.minimumSecretBytes,
                verify(secret)
            else { throw Self.badSignature }
            guard abs(signed - Int64(now.timeIntervalSince1970)) <= GatewayReport.window else {
                throw DomainError(
                    .unauthorized, code: .staleReport,
                    message: "X-Keyway-Timestamp is more than \(GatewayReport.window) seconds from the server's clock")
            }
            timestamp = signed
        case .development:
            guard let gateway, gateway.type == .gateway else { throw Self.notFound }
            timestamp = max(Int64(now.timeIntervalSince1970), (gatewayState?.lastReport ?? 0) + 1)
        }
        guard let gateway else { throw Self.notFound }
        let write = try await plan(report, gateway: gateway, timestamp: timestamp, at: now)
        guard let events = try await store.applyReport(write) else {
            throw DomainError(
                .unauthorized, code: .staleReport,
                message: "X-Keyway-Timestamp must be newer than the gateway's last report (a replay?)")
        }
        return events
    }

    /// Checks every entry (400 naming the field) and works out what the report writes.
    private func plan(_ report: GatewayReport, gateway: Device, timestamp: Int64, at now: Date) async throws
        -> GatewayReportWrite
    {
        guard report.devices.count <= GatewayReport.maximumDevices else {
            throw DomainError.invalidInput(
                field: "devices", "devices holds at most \(GatewayReport.maximumDevices) entries")
        }
        var seen = Set<Int64>()
        for (index, entry) in report.devices.enumerated() where !seen.insert(entry.deviceID).inserted {
            throw DomainError.invalidInput(
                field: "devices[\(index)].deviceId",
                "devices[\(index)].deviceId: device \(entry.deviceID) is named twice")
        }
        let devices = try await store.devices(Set(report.devices.map { DeviceID($0.deviceID) }))
        let states = try await store.deviceStates(Set(devices.map(\.id)))
        var write = GatewayReportWrite(
            gatewayID: gateway.id, timestamp: timestamp, seen: now, batteries: [], states: [], events: [])
        for (index, entry) in report.devices.enumerated() {
            let field = "devices[\(index)]"
            // Only the gateway itself and the devices reached through it: a bridge reports nothing else.
            guard let device = devices.first(where: { $0.id.rawValue == entry.deviceID }),
                device.id == gateway.id || device.gatewayID == gateway.id, device.dateDecommissioned == nil
            else {
                throw DomainError.invalidInput(
                    field: "\(field).deviceId", "\(field).deviceId: device \(entry.deviceID) is not behind this gateway"
                )
            }
            func check(_ value: Int?, _ name: String, _ range: ClosedRange<Int>) throws {
                if let value, !range.contains(value) {
                    throw DomainError.invalidInput(
                        field: "\(field).\(name)",
                        "\(field).\(name) must be \(range.lowerBound) to \(range.upperBound), not \(value)")
                }
            }
            try check(entry.voltageIdle, "voltageIdle", GatewayReport.voltages)
            try check(entry.voltageUnderLoad, "voltageUnderLoad", GatewayReport.voltages)
            try check(entry.uptime, "uptime", GatewayReport.uptimes)
            try check(entry.rssi, "rssi", GatewayReport.signals)
            try check(entry.debug?.voltageIdle, "debug.voltageIdle", GatewayReport.voltages)
            try check(entry.debug?.voltageUnderLoad, "debug.voltageUnderLoad", GatewayReport.voltages)
            try check(entry.debug?.uptime, "debug.uptime", GatewayReport.uptimes)
            var battery: BatteryLevel?
            if let text = entry.batteryLevel {
                guard let level = BatteryLevel(rawValue: text) else {
                    throw DomainError.invalidInput(
                        field: "\(field).batteryLevel",
                        "\(field).batteryLevel must be one of \(BatteryLevel.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
                battery = level
            }
            guard entry.tamper.count <= 3 else {
                throw DomainError.invalidInput(field: "\(field).tamper", "\(field).tamper holds at most 3 alarms")
            }
            var tampers: [EventType] = []
            for (position, text) in entry.tamper.enumerated() {
                guard let type = EventType(rawValue: "DeviceTamper" + text), !tampers.contains(type) else {
                    throw DomainError.invalidInput(
                        field: "\(field).tamper[\(position)]",
                        "\(field).tamper[\(position)] must be FaultyPin, Rotations or Vibration, each once")
                }
                tampers.append(type)
            }
            if device.type == .gateway, let name = entry.locked != nil ? "locked" : entry.rssi != nil ? "rssi" : nil {
                throw DomainError.invalidInput(
                    field: "\(field).\(name)", "\(field).\(name): a gateway reports no bolt or signal of its own")
            }

            func event(_ type: EventType) -> Event {
                Event(
                    type: type, time: now, organizationID: device.organizationID, deviceID: device.id,
                    gatewayID: gateway.id)
            }
            if let battery {
                write.batteries.append(.init(deviceID: device.id, level: battery, measured: now))
            }
            var state = states[device.id] ?? DeviceState(deviceID: device.id)
            var stateChanged = false
            if let locked = entry.locked {
                let new: LockState = locked ? .locked : .unlocked
                if state.locked != new {
                    var changed = event(.deviceLocked)
                    changed.status = locked ? "Locked" : "Unlocked"
                    write.events.append(changed)
                    if locked { state.lastLocked = now }
                }
                state.locked = new
                stateChanged = true
            }
            if let rssi = entry.rssi {
                state.rssi = rssi
                stateChanged = true
            }
            if stateChanged { write.states.append(state) }
            let readings = DeviceReadings(
                voltageIdle: entry.voltageIdle, voltageUnderLoad: entry.voltageUnderLoad, uptime: entry.uptime)
            if !readings.isEmpty {
                var status = event(.deviceStatus)
                status.readings = readings
                write.events.append(status)
            }
            if let debug = entry.debug {
                var diagnostic = event(.deviceDebug)
                diagnostic.readings = debug
                write.events.append(diagnostic)
            }
            for type in tampers { write.events.append(event(type)) }
        }
        return write
    }
}
