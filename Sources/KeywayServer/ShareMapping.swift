import Foundation
import KeywayAPI
import KeywayCore

/// Shares between the wire (generated types) and the domain. Fields without a value stay nil, which the
/// generated encoder omits, as Bold does.
struct ShareMapping {
    let webKeyBaseURL: String
    let now: Date

    func wire(_ share: Share, _ relations: ShareRelations) -> Components.Schemas.Share {
        Components.Schemas.Share(
            id: share.id.rawValue,
            organization: relations.organizations[share.organizationID].map {
                .init(id: $0.id.rawValue, name: $0.name, personal: $0.personal)
            },
            creatorAccount: share.creatorAccountID.map { id in
                let account = relations.accounts[id]
                return .init(id: id.rawValue, firstName: account?.firstName, lastName: account?.lastName)
            },
            startDate: share.startDate?.description, startTime: share.startTime?.description,
            endDate: share.endDate?.description, endTime: share.endTime?.description,
            schedule: share.schedule.isEmpty ? nil : share.schedule.map(Self.wire),
            permissions: .init(
                administrate: share.permissions.administrate, remoteActivate: share.permissions.remoteActivate,
                assignKeyfob: share.permissions.assignKeyfob),
            source: source(share, relations), receiver: receiver(share, relations),
            personalSettings: share.notifications.map { .init(notifications: $0) },
            autoRemoveAfter: share.autoRemoveAfter.flatMap { .init(rawValue: $0.rawValue) },
            autoRemoveDate: share.autoRemoveDate, dateCreated: share.dateCreated, dateModified: share.dateModified,
            dateValidated: share.dateValidated, dateRestricted: share.dateRestricted,
            webKey: share.webKey.map(webKeyURL), externalId: share.externalID)
    }

    func webKeyURL(_ uuid: UUID) -> String { webKeyBaseURL + "/" + uuid.uuidString.lowercased() }

    static func wire(_ entry: ScheduleEntry) -> Components.Schemas.ScheduleEntry {
        .init(
            dayOfWeek: entry.dayOfWeek.flatMap { .init(rawValue: $0.rawValue) },
            period: entry.period.map { .init(startTime: $0.startTime.description, endTime: $0.endTime.description) },
            recurrence: .init(rawValue: entry.recurrence.rawValue))
    }

    private func source(_ share: Share, _ relations: ShareRelations) -> Components.Schemas.ShareSource {
        switch share.source {
        case .device(let id):
            let device = relations.devices[id]
            return .init(
                device: .init(
                    id: id.rawValue, name: device?.name, location: device?.location, remarks: device?.remarks,
                    carouselImageUrl: device?.carouselImageURL))
        case .deviceGroup(let id):
            let group = relations.deviceGroups[id]
            return .init(
                deviceGroup: .init(
                    id: id.rawValue, name: group?.name, remarks: group?.remarks, location: group?.location))
        }
    }

    private func receiver(_ share: Share, _ relations: ShareRelations) -> Components.Schemas.ShareReceiver {
        switch share.receiver {
        case .user(let id):
            guard let user = relations.users[id] else { return .init(user: .init(id: id.rawValue)) }
            let account = user.accountID.flatMap { relations.accounts[$0] }
            return .init(
                user: .init(
                    id: id.rawValue, firstName: share.receiverName.firstName ?? user.firstName,
                    lastName: share.receiverName.lastName ?? user.lastName, emailAddress: user.emailAddress,
                    emailAddressVerify: user.emailAddressVerify, emailAddressVerified: user.emailAddressVerified,
                    phoneNumber: user.phoneNumber, phoneNumberVerify: user.phoneNumberVerify,
                    phoneNumberVerified: user.phoneNumberVerified, registered: user.registered,
                    account: account.map(UserMapping.wire), invitation: UserMapping.invitation(of: user, now: now)))
        case .userGroup(let id):
            let group = relations.userGroups[id]
            return .init(userGroup: .init(id: id.rawValue, name: share.receiverName.groupName ?? group?.name))
        }
    }

    // MARK: Requests

    static func input(_ body: Components.Schemas.ShareCreate) -> ShareInput {
        input(
            organizationID: body.organizationId, startDate: body.startDate, startTime: body.startTime,
            endDate: body.endDate, endTime: body.endTime, schedule: body.schedule, permissions: body.permissions,
            source: body.source, receiver: body.receiver, personalSettings: body.personalSettings,
            externalID: body.externalId, autoRemoveAfter: body.autoRemoveAfter)
    }

    static func input(_ body: Components.Schemas.ShareUpdate) -> ShareInput {
        input(
            organizationID: nil, startDate: body.startDate, startTime: body.startTime, endDate: body.endDate,
            endTime: body.endTime, schedule: body.schedule, permissions: body.permissions, source: body.source,
            receiver: body.receiver, personalSettings: body.personalSettings, externalID: body.externalId,
            autoRemoveAfter: body.autoRemoveAfter)
    }

    static func filters(_ query: Operations.ListShares.Input.Query) -> ShareFilters {
        ShareFilters(
            organizationID: query.organizationId, externalID: query.externalId, deviceID: query.deviceId,
            deviceGroupID: query.deviceGroupId, userID: query.userId, userGroupID: query.userGroupId,
            sortBy: query.sortBy.flatMap { ShareSortKey(rawValue: $0.rawValue) },
            sortDirection: query.sortDirection.flatMap { SortDirection(rawValue: $0.rawValue) },
            offset: query.offset.map(Int.init), size: query.size.map(Int.init))
    }

    private static func input(
        organizationID: Int64?, startDate: String?, startTime: String?, endDate: String?, endTime: String?,
        schedule: [Components.Schemas.ScheduleEntry]?, permissions: Components.Schemas.Permissions?,
        source: Components.Schemas.SourceRef?, receiver: Components.Schemas.ReceiverRef?,
        personalSettings: Components.Schemas.PersonalSettings?, externalID: String?,
        autoRemoveAfter: Components.Schemas.AutoRemoveAfter?
    ) -> ShareInput {
        ShareInput(
            organizationID: organizationID, startDate: startDate, startTime: startTime, endDate: endDate,
            endTime: endTime,
            schedule: schedule?.map { entry in
                ShareInput.Entry(
                    dayOfWeek: entry.dayOfWeek.flatMap { DayOfWeek(rawValue: $0.rawValue) },
                    period: entry.period.map { (startTime: $0.startTime, endTime: $0.endTime) },
                    recurrence: entry.recurrence.flatMap { Recurrence(rawValue: $0.rawValue) })
            },
            permissions: permissions.map {
                .init(administrate: $0.administrate, remoteActivate: $0.remoteActivate, assignKeyfob: $0.assignKeyfob)
            },
            source: source.map { (deviceID: $0.deviceId, deviceGroupID: $0.deviceGroupId) },
            receiver: receiver.map { (userID: $0.userId, userGroupID: $0.userGroupId) },
            notifications: personalSettings?.notifications, externalID: externalID,
            autoRemoveAfter: autoRemoveAfter.flatMap { AutoRemoveAfter(rawValue: $0.rawValue) })
    }
}
