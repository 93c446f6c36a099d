package store

import (
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/srvthreds/bootstrap/profiles"
)

// Outcome of one profile in one run, as stored in audit records.
type Outcome string

const (
	OutcomeApplied     Outcome = "applied"
	OutcomeSkipped     Outcome = "skipped"
	OutcomeFailed      Outcome = "failed"
	OutcomeInterrupted Outcome = "interrupted"
	OutcomeUnlocked    Outcome = "unlocked"    // a forced or stale lock break
	OutcomeRolledBack  Outcome = "rolled-back" // restored from snapshots by a rollback
	OutcomeReset       Outcome = "reset"       // reset only (the reset command), its marker deleted
	OutcomeRepaired    Outcome = "repaired"    // current, but the live data had drifted: applied again (--verify)
	OutcomeRemoved     Outcome = "removed"     // another profile's, removed by run --exclusive
)

// Sources of a marker: what wrote it.
const (
	SourceRun      = "run"
	SourceRollback = "rollback"
)

// Collections the runner keeps in each profile's database.
const (
	MarkersCollection   = "bootstrap_markers"
	AuditCollection     = "bootstrap_audit"
	SnapshotsCollection = "bootstrap_snapshots"
)

// Marker records that a profile version was applied completely. It is
// written only after every step succeeded, and only when its Fence is higher
// than the stored one.
type Marker struct {
	Profile    string       `bson:"_id" json:"profile"`
	Version    string       `bson:"version" json:"version"`
	HashAlgo   int          `bson:"hashAlgo" json:"hashAlgo"`
	Fence      int64        `bson:"fence" json:"fence"`
	RunID      string       `bson:"runId" json:"runId"`
	AppliedAt  time.Time    `bson:"appliedAt" json:"appliedAt"`
	DurationMs int64        `bson:"durationMs" json:"durationMs"`
	Host       string       `bson:"host" json:"host"`
	Image      string       `bson:"image" json:"image"`
	Steps      []StepRecord `bson:"steps" json:"steps"`

	// Source is what wrote the marker: "run" (also when empty) or
	// "rollback".
	Source string `bson:"source,omitempty" json:"source,omitempty"`
	// RolledBackFrom is the version a rollback replaced.
	RolledBackFrom string `bson:"rolledBackFrom,omitempty" json:"rolledBackFrom,omitempty"`
	// Owned is what this version of the profile wrote; nil on markers
	// written before it was recorded.
	Owned *Owned `bson:"owned,omitempty" json:"owned,omitempty"`
	// OwnedChunks is, on a stored marker whose Owned is too large to carry
	// inline, the number of its chunks in <db>.bootstrap_owned (keyed by
	// the profile and Fence); Store reads them back into Owned. 0: Owned
	// is inline (as every marker of earlier versions has it).
	OwnedChunks int `bson:"ownedChunks,omitempty" json:"-"`

	// RestoredFence is, on a rollback's marker, the fence of the run whose
	// state the rollback restored; it links the marker to the snapshots of
	// the versions before it.
	RestoredFence int64 `bson:"restoredFence,omitempty" json:"restoredFence,omitempty"`
}

// Current reports whether m records p applied at its present content (see
// current). A nil m is not current.
func (m *Marker) Current(p *profiles.Profile) bool {
	return m != nil && current(m.Version, m.HashAlgo, p)
}

// current is the one rule of "is this profile current" for run, plan, wait
// and status, in both stores: a record of version, hashed with hashAlgo,
// says p is applied at its present content when it names the same version
// hashed with the same algorithm.
func current(version string, hashAlgo int, p *profiles.Profile) bool {
	return version == p.Version && hashAlgo == p.HashAlgo
}

// StepRecord is what one step did; markers and audit records carry them.
type StepRecord struct {
	Name       string `bson:"name" json:"name"` // "<index>:<kind>"
	Kind       string `bson:"kind" json:"kind"`
	Written    int64  `bson:"written" json:"written"` // documents or keys written
	Removed    int64  `bson:"removed" json:"removed"` // documents or keys removed
	DurationMs int64  `bson:"durationMs" json:"durationMs"`
	// CachedPatterns are the pattern ids a patterns step left in the Redis
	// cache; the next version of the profile removes those it no longer
	// caches.
	CachedPatterns []string `bson:"cachedPatterns,omitempty" json:"cachedPatterns,omitempty"`
	Error          string   `bson:"error,omitempty" json:"error,omitempty"`
	// Note is a remark that is not an error, such as "skipped (too large)"
	// on the record of a snapshot that was not taken.
	Note string `bson:"note,omitempty" json:"note,omitempty"`
}

// AuditRecord is one profile outcome, stored in
// <db>.bootstrap_audit and logged.
type AuditRecord struct {
	RunID       string       `bson:"runId" json:"runId"`
	Fence       int64        `bson:"fence" json:"fence"`
	Profile     string       `bson:"profile" json:"profile"`
	Version     string       `bson:"version" json:"version"`
	PrevVersion string       `bson:"prevVersion,omitempty" json:"prevVersion,omitempty"`
	Outcome     Outcome      `bson:"outcome" json:"outcome"`
	Error       string       `bson:"error,omitempty" json:"error,omitempty"`
	At          time.Time    `bson:"at" json:"at"`
	DurationMs  int64        `bson:"durationMs" json:"durationMs"`
	Host        string       `bson:"host" json:"host"`
	Image       string       `bson:"image" json:"image"`
	Steps       []StepRecord `bson:"steps,omitempty" json:"steps,omitempty"`
}

// Owned is what a profile's version wrote (a profile owns what it
// wrote): the next version removes what it no longer writes, and
// --exclusive removes what other profiles own.
type Owned struct {
	Docs    []OwnedDocs   `bson:"docs,omitempty" json:"docs,omitempty"`
	Keys    []string      `bson:"keys,omitempty" json:"keys,omitempty"`
	Members []OwnedMember `bson:"members,omitempty" json:"members,omitempty"`
}

// OwnedDocs are documents of one collection, by the values of Field (or,
// with Field empty, by the filters that match them).
type OwnedDocs struct {
	DB     string          `bson:"db" json:"db"`
	Coll   string          `bson:"coll" json:"coll"`
	Field  string          `bson:"field" json:"field"`
	Values []bson.RawValue `bson:"values" json:"-"`
}

// OwnedMember is a member of a Redis set.
type OwnedMember struct {
	Set    string `bson:"set" json:"set"`
	Member string `bson:"member" json:"member"`
}
