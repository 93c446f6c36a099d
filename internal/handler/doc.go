// Package handler evaluates a legacy srvthreds Handler.ts and records what
// it asks the platform to do, without doing any of it.
//
// A Handler.ts default-exports a class with async run() and async
// cleanup() methods that call UserController.get().replaceUser,
// PersistenceFactory.getPersistence(...).upsert / .replace,
// PersistenceFactory.removeDatabase and Logger. Run strips the TypeScript
// types with esbuild, runs the result in goja with stand-ins for those three
// imports that record each call, and returns the calls with their position
// in Handler.ts. The script gets no file, network or clock access, no other
// import, a time bound and a bound on the memory it allocates; anything it
// does beyond the recorded calls is an *Error naming the line and column in
// Handler.ts.
package handler
