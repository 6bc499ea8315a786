import Foundation

/// What a device administrator who is not a super user may grant (docs/permissions.md): never a share to
/// itself (directly or through a user group it belongs to), and otherwise only rights it holds, inside the
/// window and the schedule in which it holds them. "Holds" means one `administrate` share of the caller,
/// in force now on the device, that covers the granted share on its own; on a device-group source, every
/// device of the group needs one.
///
/// The check is deliberately conservative: a granted share that some combination of the caller's shares
/// would cover, but no single one does, is refused, and so is an overnight period that only a whole-day
/// entry on both of its days would cover unless that entry is `Daily`.
public enum Delegation {
    /// Throws `DomainError.forbidden` naming why (the receiver, a right, the window's bound or the
    /// schedule) unless `access` may grant `share`. Super users of the share's organization may grant anything.
    public static func requireGrantable(_ share: Share, by access: Access) throws {
        if access.isSuperUser(of: share.organizationID) { return }
        if access.receives(share) {
            throw DomainError.forbidden(
                "Insufficient rights: receiver: a device administrator may not grant a share to itself or to a user group it belongs to"
            )
        }
        let devices: [DeviceID] =
            switch share.source {
            case .device(let id): [id]
            case .deviceGroup(let id):
                access.administeredGroupMembers[id].map { $0.sorted { $0.rawValue < $1.rawValue } } ?? []
            }
        guard !devices.isEmpty else {
            throw DomainError.forbidden("Insufficient rights: you do not administer this share's source")
        }
        for device in devices {
            guard let held = access.administration[device], !held.shares.isEmpty else {
                throw DomainError.forbidden("Insufficient rights: you do not administer this share's source")
            }
            var firstRefusal: String?
            var covered = false
            for holding in held.shares.sorted(by: { $0.id.rawValue < $1.id.rawValue }) {
                if let refusal = refusal(granting: share, holding: holding, zone: held.zone) {
                    firstRefusal = firstRefusal ?? refusal
                } else {
                    covered = true
                    break
                }
            }
            if !covered {
                throw DomainError.forbidden(
                    "Insufficient rights: \(firstRefusal ?? "you do not administer this share's source")")
            }
        }
    }

    /// The fields that decide what a share grants, to tell a change of the grant from a change of labels.
    public struct Grant: Hashable, Sendable {
        var source: ShareSource
        var receiver: ShareReceiver
        var permissions: Permissions
        var window: [LocalDateTime?]
        var schedule: [ScheduleEntry]
    }

    public static func grant(of share: Share) -> Grant {
        Grant(
            source: share.source, receiver: share.receiver, permissions: share.permissions,
            window: [share.windowStart, share.windowEnd], schedule: share.schedule)
    }

    /// Why `holding` (an administrate share in force) does not cover `granted`, or nil when it does.
    static func refusal(granting granted: Share, holding: Share, zone: TimeZone) -> String? {
        let missing = [
            ("administrate", granted.permissions.administrate && !holding.permissions.administrate),
            ("remoteActivate", granted.permissions.remoteActivate && !holding.permissions.remoteActivate),
            ("assignKeyfob", granted.permissions.assignKeyfob && !holding.permissions.assignKeyfob),
        ].filter(\.1).map(\.0)
        if !missing.isEmpty {
            return "permissions: you may grant only rights you hold; you do not hold \(missing.joined(separator: ", "))"
        }
        // No bound on the start: `holding` is in force now, so it began in the past, and whatever a granted
        // share would have allowed before now can no longer be used.
        if let heldEnd = holding.windowEnd {
            guard let end = granted.windowEnd, end <= heldEnd else {
                return "endDate: a share you grant must end by the end of your own (\(describe(heldEnd)))"
            }
        }
        if holding.schedule.isEmpty { return nil }
        guard !granted.schedule.isEmpty else {
            return "schedule: you hold this lock only on a schedule; a share you grant needs a schedule inside it"
        }
        let heldAnchor = anchor(of: holding, zone: zone)
        let grantedAnchor = anchor(of: granted, zone: zone)
        for (index, entry) in granted.schedule.enumerated()
        where !holding.schedule.contains(where: {
            covers($0, anchor: heldAnchor, entry, anchor: grantedAnchor)
        }) {
            return "schedule[\(index)]: this entry is outside the schedule on which you hold the lock"
        }
        return nil
    }

    /// Whether every moment `entry` selects is selected by `held`.
    static func covers(_ held: ScheduleEntry, anchor heldAnchor: LocalDate, _ entry: ScheduleEntry, anchor: LocalDate)
        -> Bool
    {
        guard selectsDays(held, anchor: heldAnchor, of: entry, anchor: anchor) else { return false }
        guard let heldPeriod = held.period else {
            // A whole day covers an overnight period only when the next day is selected too.
            if let period = entry.period, period.endTime <= period.startTime { return held.recurrence == .daily }
            return true
        }
        guard let period = entry.period else { return false }
        let heldOvernight = heldPeriod.endTime <= heldPeriod.startTime
        let overnight = period.endTime <= period.startTime
        switch (overnight, heldOvernight) {
        case (false, false):
            return heldPeriod.startTime <= period.startTime && period.endTime <= heldPeriod.endTime
        case (false, true):
            return heldPeriod.startTime <= period.startTime
        case (true, false):
            return false
        case (true, true):
            return heldPeriod.startTime <= period.startTime && period.endTime <= heldPeriod.endTime
        }
    }

    /// Whether every day `entry` selects is a day `held` selects.
    static func selectsDays(
        _ held: ScheduleEntry, anchor heldAnchor: LocalDate, of entry: ScheduleEntry, anchor: LocalDate
    )
        -> Bool
    {
        switch held.recurrence {
        case .daily:
            return true
        case .weekly:
            return entry.recurrence != .daily && entry.dayOfWeek == held.dayOfWeek
        case .biWeekly:
            guard entry.recurrence == .biWeekly, entry.dayOfWeek == held.dayOfWeek else { return false }
            let weeks =
                (AccessEvaluator.monday(of: anchor).daysSinceEpoch
                    - AccessEvaluator.monday(of: heldAnchor).daysSinceEpoch) / 7
            return weeks % 2 == 0
        }
    }

    /// The date whose week is week 0 of the share's `BiWeekly` entries, as the evaluator counts it.
    static func anchor(of share: Share, zone: TimeZone) -> LocalDate {
        share.startDate ?? AccessEvaluator.localReading(of: share.dateCreated, in: zone).date
    }

    static func describe(_ reading: LocalDateTime) -> String { "\(reading.date) \(reading.time)" }
}
