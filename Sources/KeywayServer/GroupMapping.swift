import Foundation
import KeywayAPI
import KeywayCore

/// Device groups and user groups between the wire (generated types) and the domain.
enum GroupMapping {
    static func wire(_ group: DeviceGroup, members: [Device]?) -> Components.Schemas.DeviceGroup {
        .init(
            id: group.id.rawValue, organizationId: group.organizationID.rawValue, name: group.name,
            remarks: group.remarks, location: group.location, dateCreated: group.dateCreated,
            dateModified: group.dateModified,
            deviceList: members?.map {
                .init(id: $0.id.rawValue, name: $0.name, deviceType: .init(rawValue: $0.type.rawValue))
            })
    }

    static func wire(_ group: UserGroup, members: [(user: User, groupAdmin: Bool)]?) -> Components.Schemas.UserGroup {
        .init(
            id: group.id.rawValue, organizationId: group.organizationID.rawValue, name: group.name,
            remarks: group.remarks, dateCreated: group.dateCreated, dateModified: group.dateModified,
            userList: members?.map { member in
                .init(
                    id: member.user.id.rawValue, firstName: member.user.firstName, lastName: member.user.lastName,
                    emailAddress: member.user.emailAddress, phoneNumber: member.user.phoneNumber,
                    groupAdmin: member.groupAdmin)
            })
    }

    static func input(_ body: Components.Schemas.GroupCreate) -> GroupInput {
        GroupInput(organizationID: body.organizationId, name: body.name, remarks: body.remarks, location: body.location)
    }

    static func input(_ body: Components.Schemas.GroupUpdate) -> GroupInput {
        GroupInput(name: body.name, remarks: body.remarks, location: body.location)
    }

    static func filters(
        organizationID: Int64?, search: String?, includeMembers: Bool?, sortBy: String?, sortDirection: String?,
        offset: Int32?, size: Int32?
    ) -> GroupFilters {
        var filters = GroupFilters()
        filters.organizationID = organizationID
        filters.search = search
        filters.includeMembers = includeMembers ?? false
        filters.sortBy = sortBy.flatMap(GroupSortKey.init(rawValue:))
        filters.sortDirection = sortDirection.flatMap(SortDirection.init(rawValue:))
        filters.offset = offset.map(Int.init)
        filters.size = size.map(Int.init)
        return filters
    }
}
