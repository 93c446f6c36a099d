// Package conn resolves where MongoDB and Redis are (the flags, the
// BOOTSTRAP_ variables and the variables the srvthreds services already use,
// with *_FILE secrets), dials them with a bounded wait for them to come up,
// and redacts connection strings for logs and errors.
package conn
