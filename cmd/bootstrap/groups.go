package main

import "github.com/alecthomas/kong"

// Flag groups of the help, by key: a flag joins one with `group:"<key>"` (on
// the flag, or on an embedded struct of flags for all of them). The flags of a
// command that belong to none are listed first, under "Flags".
const (
	groupProfiles   = "profiles"   // which profiles, read from where
	groupLimits     = "limits"     // bounds of what a profile may hold
	groupConnection = "connection" // MongoDB and Redis: addresses, topology, TLS
	groupLock       = "lock"       // the distributed lock
	groupTiming     = "timing"     // timeouts of a run
	groupOutput     = "output"     // reports and logs
)

// flagGroups are the titles of the groups (kong.ExplicitGroups). The help
// lists a command's groups in the order its flags are declared in.
func flagGroups() []kong.Group {
	return []kong.Group{
		{Key: groupProfiles, Title: "Profiles:"},
		{Key: groupConnection, Title: "Connection (MongoDB and Redis):",
			Description: "MONGO_HOST, REDIS_HOST, REDIS_PASSWORD and *_FILE secrets apply when no URI or URL is given."},
		{Key: groupLock, Title: "Lock:"},
		{Key: groupTiming, Title: "Timing:"},
		{Key: groupLimits, Title: "Limits (of what a profile may hold):"},
		{Key: groupOutput, Title: "Output and logs:"},
	}
}
