// Package store is the data model of what bootstrap records (markers, step
// records, audit records, snapshots) and their storage in MongoDB. Every
// write of a record is fenced: it is stored only if the stored one's fence
// is lower.
package store
