import Foundation
import KeywayCore
import KeywaySQL

// Rows and domain values, column by column; the columns are the SQLite store's (see its Rows.swift).

enum ShareColumns {
    static let names = [
        "organization_id", "creator_account_id", "start_date", "start_time", "end_date", "end_time", "schedule",
        "administrate", "remote_activate", "assign_keyfob", "device_id", "device_group_id", "user_id",
        "user_group_id", "receiver_first_name", "receiver_last_name", "receiver_group_name", "notifications",
        "auto_remove_after", "auto_remove_date", "external_id", "token", "web_key", "date_created", "date_modified",
        "date_validated", "date_restricted", "version",
    ]
    static let withoutID = names.joined(separator: ", ")
    static let all = "id, " + withoutID

    static func arguments(_ share: Share) -> [any SQLArgument] {
        var device: Int64?
        var deviceGroup: Int64?
        switch share.source {
        case .device(let id): device = id.rawValue
        case .deviceGroup(let id): deviceGroup = id.rawValue
        }
        var user: Int64?
        var userGroup: Int64?
        switch share.receiver {
        case .user(let id): user = id.rawValue
        case .userGroup(let id): userGroup = id.rawValue
        }
        return [
            share.organizationID.rawValue, share.creatorAccountID?.rawValue, share.startDate?.description,
            share.startTime?.description, share.endDate?.description, share.endTime?.description,
            StorageCoding.encode(share.schedule), share.permissions.administrate, share.permissions.remoteActivate,
            share.permissions.assignKeyfob, device, deviceGroup, user, userGroup, share.receiverName.firstName,
            share.receiverName.lastName, share.receiverName.groupName, share.notifications,
            share.autoRemoveAfter?.rawValue, micros(share.autoRemoveDate), share.externalID,
            share.token.uuidString.lowercased(), share.webKey?.uuidString.lowercased(),
            StorageCoding.microseconds(share.dateCreated), micros(share.dateModified), micros(share.dateValidated),
            micros(share.dateRestricted), Int64(share.version),
        ]
    }

    static func decode(_ row: SQLRow) throws -> Share {
        let source: ShareSource
        if let device = try row.int("device_id") {
            source = .device(DeviceID(device))
        } else {
            source = .deviceGroup(DeviceGroupID(try row.requiredInt("device_group_id")))
        }
        let receiver: ShareReceiver
        if let user = try row.int("user_id") {
            receiver = .user(UserID(user))
        } else {
            receiver = .userGroup(UserGroupID(try row.requiredInt("user_group_id")))
        }
        let tokenText = try row.text("token") ?? ""
        guard let token = UUID(uuidString: tokenText) else {
            throw StorageCodingError(what: "share token", value: tokenText)
        }
        return Share(
            id: ShareID(try row.requiredInt("id")),
            organizationID: OrganizationID(try row.requiredInt("organization_id")),
            creatorAccountID: try row.int("creator_account_id").map { AccountID($0) },
            startDate: try row.text("start_date").flatMap(LocalDate.init),
            startTime: try row.text("start_time").flatMap(LocalTime.init),
            endDate: try row.text("end_date").flatMap(LocalDate.init),
            endTime: try row.text("end_time").flatMap(LocalTime.init),
            schedule: try StorageCoding.decodeSchedule(try row.text("schedule") ?? "[]"),
            permissions: Permissions(
                administrate: try row.bool("administrate") ?? false,
                remoteActivate: try row.bool("remote_activate") ?? false,
                assignKeyfob: try row.bool("assign_keyfob") ?? false),
            source: source, receiver: receiver,
            receiverName: ReceiverName(
                firstName: try row.text("receiver_first_name"), lastName: try row.text("receiver_last_name"),
                groupName: try row.text("receiver_group_name")),
            notifications: try row.bool("notifications"),
            autoRemoveAfter: try row.text("auto_remove_after").flatMap(AutoRemoveAfter.init(rawValue:)),
            autoRemoveDate: try row.date("auto_remove_date"), externalID: try row.text("external_id"),
            token: token, webKey: try row.text("web_key").flatMap(UUID.init(uuidString:)),
            dateCreated: try row.requiredDate("date_created"), dateModified: try row.date("date_modified"),
            dateValidated: try row.date("date_validated"), dateRestricted: try row.date("date_restricted"),
            version: Int(try row.int("version") ?? 1))
    }
}

enum DeviceColumns {
    static let names = [
        "organization_id", "name", "device_type", "time_zone", "location", "remarks", "carousel_image_url", "model",
        "actual_firmware_version", "required_firmware_version", "gateway_id", "date_decommissioned", "installed",
        "battery_level", "battery_last_measurement", "activation_time", "date_created", "date_modified",
        "controller",
    ]
    static let withoutID = names.joined(separator: ", ")
    static let all = "id, " + withoutID

    static func arguments(_ device: Device) -> [any SQLArgument] {
        [
            device.organizationID.rawValue, device.name, device.type.rawValue, device.timeZone, device.location,
            device.remarks, device.carouselImageURL, device.model, device.actualFirmwareVersion.map(Int64.init),
            device.requiredFirmwareVersion.map(Int64.init), device.gatewayID?.rawValue,
            micros(device.dateDecommissioned), device.installed, device.batteryLevel?.rawValue,
            micros(device.batteryLastMeasurement), Int64(device.activationTime),
            StorageCoding.microseconds(device.dateCreated), micros(device.dateModified), device.controller,
        ]
    }

    static func decode(_ row: SQLRow) throws -> Device {
        let typeText = try row.text("device_type") ?? ""
        guard let type = DeviceType(rawValue: typeText) else {
            throw StorageCodingError(what: "device type", value: typeText)
        }
        return Device(
            id: DeviceID(try row.requiredInt("id")),
            organizationID: OrganizationID(try row.requiredInt("organization_id")),
            name: try row.text("name") ?? "", type: type, timeZone: try row.text("time_zone"),
            location: try row.text("location"), remarks: try row.text("remarks"),
            carouselImageURL: try row.text("carousel_image_url"), model: try row.text("model"),
            actualFirmwareVersion: try row.int("actual_firmware_version").map { Int($0) },
            requiredFirmwareVersion: try row.int("required_firmware_version").map { Int($0) },
            gatewayID: try row.int("gateway_id").map { DeviceID($0) },
            dateDecommissioned: try row.date("date_decommissioned"), installed: try row.bool("installed") ?? true,
            batteryLevel: try row.text("battery_level").flatMap(BatteryLevel.init(rawValue:)),
            batteryLastMeasurement: try row.date("battery_last_measurement"),
            activationTime: Int(try row.int("activation_time") ?? Int64(Device.defaultActivationTime)),
            controller: try row.bool("controller") ?? false, dateCreated: try row.requiredDate("date_created"),
            dateModified: try row.date("date_modified"))
    }
}

enum UserColumns {
    static let names = [
        "organization_id", "account_id", "first_name", "last_name", "email_address", "email_address_verify",
        "email_address_verified", "phone_number", "phone_number_verify", "phone_number_verified", "super_user",
        "external_id", "description", "remarks", "invitation_token", "invitation_url", "invitation_expiration",
        "invitation_language", "invitation_accepted", "auto_remove_after", "date_created", "date_modified",
    ]
    static let withoutID = names.joined(separator: ", ")
    static let all = "id, " + withoutID

    static func arguments(_ user: User) -> [any SQLArgument] {
        [
            user.organizationID.rawValue, user.accountID?.rawValue, user.firstName, user.lastName, user.emailAddress,
            user.emailAddressVerify, user.emailAddressVerified, user.phoneNumber, user.phoneNumberVerify,
            user.phoneNumberVerified, user.superUser, user.externalID, user.description, user.remarks,
            user.invitation?.token.uuidString.lowercased(), user.invitation?.url, micros(user.invitation?.expiration),
            user.invitation?.language, micros(user.invitation?.dateAccepted), user.autoRemoveAfter?.rawValue,
            StorageCoding.microseconds(user.dateCreated), micros(user.dateModified),
        ]
    }

    static func decode(_ row: SQLRow) throws -> User {
        var invitation: Invitation?
        if let token = try row.text("invitation_token").flatMap(UUID.init(uuidString:)) {
            invitation = Invitation(
                token: token, url: try row.text("invitation_url") ?? "",
                expiration: try row.requiredDate("invitation_expiration"),
                language: try row.text("invitation_language"), dateAccepted: try row.date("invitation_accepted"))
        }
        return User(
            id: UserID(try row.requiredInt("id")),
            organizationID: OrganizationID(try row.requiredInt("organization_id")),
            accountID: try row.int("account_id").map { AccountID($0) }, firstName: try row.text("first_name"),
            lastName: try row.text("last_name"), emailAddress: try row.text("email_address"),
            emailAddressVerify: try row.bool("email_address_verify") ?? false,
            emailAddressVerified: try row.bool("email_address_verified") ?? false,
            phoneNumber: try row.text("phone_number"),
            phoneNumberVerify: try row.bool("phone_number_verify") ?? false,
            phoneNumberVerified: try row.bool("phone_number_verified") ?? false,
            superUser: try row.bool("super_user") ?? false, externalID: try row.text("external_id"),
            description: try row.text("description"), remarks: try row.text("remarks"), invitation: invitation,
            autoRemoveAfter: try row.text("auto_remove_after").flatMap(AutoRemoveAfter.init(rawValue:)),
            dateCreated: try row.requiredDate("date_created"), dateModified: try row.date("date_modified"))
    }
}

enum APIKeyColumns {
    static let withoutID = "organization_id, name, scopes, secret_hash, creator_account_id, date_created, date_revoked"
    static let all = "id, " + withoutID

    static func arguments(_ key: APIKey) -> [any SQLArgument] {
        [
            key.organizationID.rawValue, key.name, StorageCoding.encode(key.scopes), Bytes(key.secretHash),
            key.creatorAccountID?.rawValue, StorageCoding.microseconds(key.dateCreated), micros(key.dateRevoked),
        ]
    }

    static func decode(_ row: SQLRow) throws -> APIKey {
        APIKey(
            id: APIKeyID(try row.requiredInt("id")),
            organizationID: OrganizationID(try row.requiredInt("organization_id")),
            name: try row.text("name"), scopes: StorageCoding.decodeScopes(try row.text("scopes") ?? ""),
            secretHash: try row.bytes("secret_hash") ?? [],
            creatorAccountID: try row.int("creator_account_id").map { AccountID($0) },
            dateCreated: try row.requiredDate("date_created"), dateRevoked: try row.date("date_revoked"))
    }
}

enum EventColumns {
    static let all =
        "id, organization_id, type, time, device_id, share_id, user_id, account_id, result, method, activation_time, nearby, "
        + "gateway_id, status, keep_active_until, voltage_idle, voltage_under_load, uptime"

    static func decode(_ row: SQLRow) throws -> Event {
        var event = Event(
            type: EventType(rawValue: try row.text("type") ?? "") ?? .deviceActivation,
            time: try row.requiredDate("time"), organizationID: OrganizationID(try row.requiredInt("organization_id")),
            deviceID: try row.int("device_id").map { DeviceID($0) },
            shareID: try row.int("share_id").map { ShareID($0) },
            userID: try row.int("user_id").map { UserID($0) },
            accountID: try row.int("account_id").map { AccountID($0) },
            result: try row.text("result") ?? "", method: try row.text("method").flatMap { AccessMethod(rawValue: $0) },
            activationTime: try row.int("activation_time").map { Int($0) }, nearby: try row.bool("nearby") ?? false,
            gatewayID: try row.int("gateway_id").map { DeviceID($0) }, status: try row.text("status"),
            keepActiveUntil: try row.date("keep_active_until"),
            readings: DeviceReadings(
                voltageIdle: try row.int("voltage_idle").map { Int($0) },
                voltageUnderLoad: try row.int("voltage_under_load").map { Int($0) },
                uptime: try row.int("uptime").map { Int($0) }))
        event.id = EntityID<EventID>(try row.requiredInt("id"))
        return event
    }
}
