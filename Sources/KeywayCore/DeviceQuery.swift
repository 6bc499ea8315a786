import Foundation

public enum DeviceSortKey: String, Sendable, CaseIterable {
    case id, name, batteryLevel
}

/// Bold's `filter` of `GET /v2/devices`.
public enum DeviceFilter: String, Sendable, CaseIterable {
    case installed = "Installed", uninstalled = "Uninstalled", decommissioned = "Decommissioned"
    case commissioned = "Commissioned"
}

/// The filters of `GET /v2/devices`, already narrowed to what the caller may see. Text filters match
/// case-insensitively anywhere in the field; in `search`, `*` stands for any run of characters.
public struct DeviceQuery: Hashable, Sendable {
    public var visibility: Visibility
    public var deviceID: DeviceID?
    public var organizationName: String?
    public var deviceGroupID: DeviceGroupID?
    /// Over name, location, remarks and id.
    public var search: String?
    public var name: String?
    public var location: String?
    public var remarks: String?
    public var type: DeviceType?
    /// Only the devices linked to this gateway.
    public var gatewayID: DeviceID?
    public var includeDecommissioned: Bool
    public var includeUninstalled: Bool
    public var filter: DeviceFilter?
    public var sortBy: DeviceSortKey
    public var sortDirection: SortDirection
    public var page: Page

    public init(
        visibility: Visibility, deviceID: DeviceID? = nil, organizationName: String? = nil,
        deviceGroupID: DeviceGroupID? = nil, search: String? = nil, name: String? = nil, location: String? = nil,
        remarks: String? = nil, type: DeviceType? = nil, gatewayID: DeviceID? = nil,
        includeDecommissioned: Bool = false,
        includeUninstalled: Bool = false, filter: DeviceFilter? = nil, sortBy: DeviceSortKey = .id,
        sortDirection: SortDirection = .asc, page: Page
    ) {
        self.visibility = visibility
        self.deviceID = deviceID
        self.organizationName = organizationName
        self.deviceGroupID = deviceGroupID
        self.search = search
        self.name = name
        self.location = location
        self.remarks = remarks
        self.type = type
        self.gatewayID = gatewayID
        self.includeDecommissioned = includeDecommissioned
        self.includeUninstalled = includeUninstalled
        self.filter = filter
        self.sortBy = sortBy
        self.sortDirection = sortDirection
        self.page = page
    }

    /// Whether decommissioned devices may appear at all.
    public var showsDecommissioned: Bool { includeDecommissioned || filter == .decommissioned }
    /// Whether uninstalled devices may appear at all.
    public var showsUninstalled: Bool { includeUninstalled || filter == .uninstalled }
}

/// What a page of devices is shown with.
public struct DeviceRelations: Sendable {
    public var organizations: [OrganizationID: Organization] = [:]
    /// The organizations' creator accounts, shown as the devices' owners.
    public var accounts: [AccountID: Account] = [:]
    /// The groups each device belongs to (filled when asked).
    public var groups: [DeviceID: [DeviceGroup]] = [:]
    /// The gateways the devices are linked to.
    public var gateways: [DeviceID: Device] = [:]
    /// For each gateway, the devices linked to it (filled when asked).
    public var linkedDevices: [DeviceID: [Device]] = [:]
    public init() {}
}
