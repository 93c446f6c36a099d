package handler

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const header = "import { UserController } from '../../ts/auth/UserController';\n" +
	"import { PersistenceFactory } from '../../ts/persistence/PersistenceFactory';\n" +
	"import { Logger } from '../../ts/thredlib';\n"

// handlerSrc is a Handler.ts whose run() body starts on line 5 and
// cleanup() body on the line after it.
func handlerSrc(run, cleanup string) string {
	return header + "export default class Handler {\n" +
		"  async run(): Promise<void> {\n" + run + "\n  }\n" +
		"  async cleanup(): Promise<void> {\n" + cleanup + "\n  }\n}\n"
}

func TestRun_records_calls(t *testing.T) {
	src := header + `export default class Handler {
  private db = 'test';
  async run(): Promise<void> {
    Logger.info('start');
    const uc = UserController.get();
    await uc.replaceUser({ id: 'u1', password: 'pw', roles: [{ name: 'admin' }], created: new Date() });
    await this.things();
  }
  async cleanup(): Promise<void> {
    await PersistenceFactory.removeDatabase({ dbname: this.db });
    await PersistenceFactory.removeDatabase();
  }
  private async things(): Promise<void> {
    const persistence = PersistenceFactory.getPersistence({ dbname: this.db });
    await persistence.upsert({ type: 'T', values: { id: 'a', n: 1.5, big: 2147483648, z: null, ok: true, list: [1, 'x'] }, matcher: { id: 'a' } });
    await PersistenceFactory.getPersistence().replace({ type: 'R', values: { id: 'b', modified: new Date() }, matcher: { id: 'b' } });
  }
}
`
	calls, err := Run([]byte(src), nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := []Call{
		{Phase: PhaseCleanup, Method: MethodRemoveDatabase, Database: "test", Line: 13},
		{Phase: PhaseCleanup, Method: MethodRemoveDatabase, Database: "", Line: 14},
		{Phase: PhaseRun, Method: MethodReplaceUser, Line: 9,
			Arg: []byte(`{"id":"u1","password":"pw","roles":[{"name":"admin"}]}`)},
		{Phase: PhaseRun, Method: MethodUpsert, Database: "test", Line: 18,
			Arg: []byte(`{"type":"T","values":{"id":"a","n":1.5,"big":2147483648,"z":null,"ok":true,"list":[1,"x"]},"matcher":{"id":"a"}}`)},
		{Phase: PhaseRun, Method: MethodReplace, Line: 19,
			Arg: []byte(`{"type":"R","values":{"id":"b"},"matcher":{"id":"b"}}`)},
	}
	if len(calls) != len(want) {
		t.Fatalf("got %d calls %+v, want %d", len(calls), calls, len(want))
	}
	for i, w := range want {
		c := calls[i]
		if c.Phase != w.Phase || c.Method != w.Method || c.Database != w.Database || c.Line != w.Line || string(c.Arg) != string(w.Arg) {
			t.Errorf("call %d = %+v (arg %s), want %+v (arg %s)", i, c, c.Arg, w, w.Arg)
		}
		if c.Column == 0 {
			t.Errorf("call %d has no column", i)
		}
	}
}

func TestRun_refused(t *testing.T) {
	tests := []struct {
		name         string
		run, cleanup string
		want         string // the error starts with it
	}{
		{"unknown_call", "    UserController.get().deleteUser('x');", "",
			"Handler.ts:6:20: UserController.get().deleteUser is not supported"},
		{"unknown_static", "    PersistenceFactory.dropEverything();", "",
			"Handler.ts:6:5: PersistenceFactory.dropEverything is not supported"},
		{"unknown_logger_method", "    Logger.setLevel('x');", "", "Handler.ts:6:5: Logger.setLevel is not supported"},
		{"fetch", "    await fetch('http://x');", "", "Handler.ts:6:11: ReferenceError: fetch is not defined"},
		{"set_timeout", "    setTimeout(() => 1, 10);", "", "Handler.ts:6:"},
		{"endless_loop", "    for (;;) {\n      Logger.info('again');\n    }", "", "Handler.ts:"},
		{"clock", "    const t = Date.now();", "", "Handler.ts:6:"},
		{"date_with_argument", "    const t = new Date('2020-01-01');", "", "Handler.ts:6:"},
		{"random", "    const r = Math.random();", "", "Handler.ts:6:"},
		{"function_value", "    await UserController.get().replaceUser({ id: 'a', password: 'p', f: () => 1 });", "",
			"Handler.ts:6:32: replaceUser(user): user.f is a function; want literal data"},
		{"undefined_value", "    await UserController.get().replaceUser({ id: 'a', password: 'p', x: undefined });", "",
			"Handler.ts:6:32: replaceUser(user): user.x is undefined; want literal data"},
		{"class_instance", "    await PersistenceFactory.getPersistence().upsert({ type: 'T', values: new Map(), matcher: { id: 1 } });", "",
			"Handler.ts:6:47: upsert(arg): arg.values is an instance of a class; want a plain object"},
		{"nan", "    await PersistenceFactory.getPersistence().upsert({ type: 'T', values: { n: 0 / 0 }, matcher: { id: 1 } });", "",
			"Handler.ts:6:47: upsert(arg): arg.values.n is NaN, which JSON cannot hold"},
		{"write_in_cleanup", "", "    await UserController.get().replaceUser({ id: 'a', password: 'p' });",
			"Handler.ts:9:32: replaceUser in cleanup() is not supported"},
		{"remove_database_in_run", "    await PersistenceFactory.removeDatabase({ dbname: 'x' });", "",
			"Handler.ts:6:30: removeDatabase is supported only in cleanup()"},
		{"bad_dbname", "", "    await PersistenceFactory.removeDatabase({ dbname: 3 });",
			"Handler.ts:9:30: removeDatabase: dbname is not a non-empty string"},
		{"thrown", "    throw new Error('nope');", "", "Handler.ts:6:11: Error: nope"},
		{"caught_problem_still_fails", "    try { UserController.get().nope(); } catch (e) { Logger.info('ignored'); }", "",
			"Handler.ts:6:"},
		{"never_settles", "    await new Promise(() => {});", "", "Handler.ts: run() did not finish"},
		{"recursion", "    const f = (n: number): number => f(n + 1);\n    f(0);", "", "Handler.ts:6:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls, err := Run([]byte(handlerSrc(tt.run, tt.cleanup)), &Options{Timeout: 200 * time.Millisecond})
			var he *Error
			if !errors.As(err, &he) {
				t.Fatalf("Run = %v, %v; want an *Error", calls, err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to start with %q", err, tt.want)
			}
			if he.Line == 0 && strings.Contains(tt.want, ":6:") {
				t.Errorf("error has no line: %v", err)
			}
			// The interrupt stops the loop wherever it is.
			if tt.name == "endless_loop" && (he.Line < 6 || he.Line > 7 || !strings.Contains(he.Msg, "still running after 200ms")) {
				t.Errorf("error = %v, want the loop's lines 6-7 and the time bound", err)
			}
		})
	}
}

func TestRun_module_problems(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"syntax", "export default class {\n  run() { let x: number = ; }\n}\n", "Handler.ts:2:27: TypeScript: Unexpected \";\""},
		{"no_default_export", "export class Handler {}\n", "Handler.ts: no default export"},
		{"other_import_default", "import fs from 'fs';\nexport default class { run() { fs.readFileSync('x'); } }\n", "Handler.ts:2:"},
		{"module_body_loop", "let n = 0;\nwhile (n >= 0) { n++; }\nexport default class {}\n", "Handler.ts:2:"},
		{"object_export", "export default { async run() { await 1; } };\n", ""},
		{"type_only_imports", "import { RunProfileHandler } from '../../ts/RunProfileHandler';\nimport * as path from 'path';\n" +
			"export default class Handler implements RunProfileHandler {\n  constructor(private readonly name: string = 'x') {}\n  async run(): Promise<void> {}\n}\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run([]byte(tt.src), &Options{Timeout: 200 * time.Millisecond})
			if tt.want == "" {
				if err != nil {
					t.Errorf("Run: %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to start with %q", err, tt.want)
			}
		})
	}
}

func TestRun_memory_bound(t *testing.T) {
	src := handlerSrc("    const a: string[] = [];\n    for (let i = 0; ; i++) a.push('x'.repeat(1000) + i);", "")
	_, err := Run([]byte(src), &Options{Timeout: time.Minute})
	var he *Error
	if !errors.As(err, &he) || he.Line != 7 || !strings.Contains(he.Msg, "used more than 64 MiB of memory") {
		t.Errorf("Run = %v; want the memory bound at line 7", err)
	}
}

func TestRun_default_time_bound(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the default time bound")
	}
	_, err := Run([]byte(handlerSrc("    while (true) {}", "")), nil)
	if err == nil || !strings.Contains(err.Error(), "still running after 1s") {
		t.Errorf("error = %v, want the time bound", err)
	}
}
