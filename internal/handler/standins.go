package handler

import (
	"slices"
	"strings"

	"github.com/dop251/goja"
)

// imports are the names a handler may import, from any module path.
var imports = []string{"UserController", "PersistenceFactory", "Logger"}

// loggerMethods are the Logger calls accepted (and ignored).
var loggerMethods = []string{"trace", "debug", "info", "warn", "error", "log"}

// nowMarker is the hidden property of the objects new Date() returns.
const nowMarker = "__bootstrapNow"

// setup installs the CommonJS globals with the stand-ins behind require,
// and takes the clock and randomness away.
func (e *engine) setup() {
	vm := e.vm
	module := vm.NewObject()
	exports := vm.NewObject()
	must(module.Set("exports", exports))
	must(vm.Set("module", module))
	must(vm.Set("exports", exports))
	mods := map[string]goja.Value{
		"UserController":     e.userController(),
		"PersistenceFactory": e.persistenceFactory(),
		"Logger":             e.logger(),
	}
	must(vm.Set("require", func(call goja.FunctionCall) goja.Value {
		spec := call.Argument(0).String()
		target := vm.NewObject()
		for _, n := range imports {
			must(target.Set(n, mods[n]))
		}
		must(target.Set("__esModule", true))
		return e.guard(target, func(prop string) string {
			return "import " + prop + " from '" + spec + "' is not supported; a handler may import only " +
				strings.Join(imports, ", ")
		})
	}))
	e.noClock()
}

// noClock replaces Date by a stand-in whose only use is new Date() as the
// created or modified field of a recorded call (which the legacy tool
// drops), and Math.random by a function that throws.
func (e *engine) noClock() {
	vm := e.vm
	date := func(call goja.ConstructorCall) *goja.Object {
		if len(call.Arguments) > 0 {
			e.throw("new Date(...) is not supported: a handler's data must be literal")
		}
		o := vm.NewObject()
		must(o.DefineDataProperty(nowMarker, vm.ToValue(true), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE))
		return o
	}
	d := vm.ToValue(date).(*goja.Object)
	must(d.Set("now", func(goja.FunctionCall) goja.Value {
		e.throw("Date.now() is not supported: a profile's content must not depend on the clock")
		return nil
	}))
	must(vm.Set("Date", d))
	math := vm.Get("Math").ToObject(vm)
	must(math.Set("random", func(goja.FunctionCall) goja.Value {
		e.throw("Math.random() is not supported: a profile's content must be deterministic")
		return nil
	}))
}

// guard wraps target in a proxy that throws, with the message what gives,
// on any read of a property target does not have. "then" reads as
// undefined, so that awaiting a stand-in works.
func (e *engine) guard(target *goja.Object, what func(prop string) string) goja.Value {
	return e.vm.ToValue(e.vm.NewProxy(target, &goja.ProxyTrapConfig{
		Get: func(t *goja.Object, prop string, _ goja.Value) goja.Value {
			if v := t.Get(prop); v != nil {
				return v
			}
			if prop == "then" {
				return goja.Undefined()
			}
			e.throw("%s", what(prop))
			return nil
		},
	}))
}

// unknown is the message of a call that is not one of the stand-ins'.
func unknown(obj string) func(string) string {
	return func(prop string) string {
		return obj + "." + prop + " is not supported; a handler may call UserController.get().replaceUser, " +
			"PersistenceFactory.getPersistence(...).upsert/.replace, PersistenceFactory.removeDatabase and Logger"
	}
}

// userController is the UserController stand-in: get() returns an object
// whose replaceUser(user) is recorded.
func (e *engine) userController() goja.Value {
	vm := e.vm
	uc := vm.NewObject()
	must(uc.Set("replaceUser", func(call goja.FunctionCall) goja.Value {
		e.writeCall(call, MethodReplaceUser, "", "user")
		return goja.Undefined()
	}))
	inst := e.guard(uc, unknown("UserController.get()"))
	cls := vm.NewObject()
	must(cls.Set("get", func(goja.FunctionCall) goja.Value { return inst }))
	return e.guard(cls, unknown("UserController"))
}

// persistenceFactory is the PersistenceFactory stand-in.
func (e *engine) persistenceFactory() goja.Value {
	vm := e.vm
	pf := vm.NewObject()
	must(pf.Set("getPersistence", func(call goja.FunctionCall) goja.Value {
		db := e.dbname(call, "getPersistence")
		p := vm.NewObject()
		for _, m := range []string{MethodUpsert, MethodReplace} {
			must(p.Set(m, func(call goja.FunctionCall) goja.Value {
				e.writeCall(call, m, db, "arg")
				return goja.Undefined()
			}))
		}
		return e.guard(p, unknown("PersistenceFactory.getPersistence()"))
	}))
	must(pf.Set("removeDatabase", func(call goja.FunctionCall) goja.Value {
		db := e.dbname(call, "removeDatabase")
		if e.phase != PhaseCleanup {
			e.throw("removeDatabase is supported only in cleanup(), whose drops become the profile's reset")
		}
		line, col := e.here()
		e.calls = append(e.calls, Call{Phase: e.phase, Method: MethodRemoveDatabase, Database: db, Line: line, Column: col})
		return goja.Undefined()
	}))
	return e.guard(pf, unknown("PersistenceFactory"))
}

// logger is the Logger stand-in: its methods do nothing.
func (e *engine) logger() goja.Value {
	l := e.vm.NewObject()
	for _, m := range loggerMethods {
		must(l.Set(m, func(goja.FunctionCall) goja.Value { return goja.Undefined() }))
	}
	return e.guard(l, unknown("Logger"))
}

// dbname reads the optional {dbname: "..."} argument of getPersistence and
// removeDatabase.
func (e *engine) dbname(call goja.FunctionCall, fn string) string {
	switch len(call.Arguments) {
	case 0:
		return ""
	case 1:
	default:
		e.throw("%s takes one argument ({dbname: '...'}); got %d", fn, len(call.Arguments))
	}
	a := call.Argument(0)
	if goja.IsUndefined(a) {
		return ""
	}
	o, ok := a.(*goja.Object)
	if !ok || o.ClassName() != "Object" {
		e.throw("%s: the argument is not an object; want {dbname: '...'}", fn)
	}
	for _, k := range o.Keys() {
		if k != "dbname" {
			e.throw("%s: unknown option %q; want {dbname: '...'}", fn, k)
		}
	}
	v := o.Get("dbname")
	if v == nil || goja.IsUndefined(v) {
		return ""
	}
	s, ok := v.Export().(string)
	if !ok || s == "" {
		e.throw("%s: dbname is not a non-empty string", fn)
	}
	return s
}

// writeCall records a replaceUser, upsert or replace call of run(), its
// one argument exported as JSON.
func (e *engine) writeCall(call goja.FunctionCall, method, db, argName string) {
	if e.phase != PhaseRun {
		e.throw("%s in %s is not supported: only run() may write (cleanup() may only removeDatabase)", method, e.phaseName())
	}
	if len(call.Arguments) != 1 {
		e.throw("%s takes one argument; got %d", method, len(call.Arguments))
	}
	dropped := []string{argName + ".created", argName + ".modified"}
	if method != MethodReplaceUser {
		dropped = []string{argName + ".values.created", argName + ".values.modified"}
	}
	x := exporter{vm: e.vm, dropNow: func(path string) bool { return slices.Contains(dropped, path) }}
	data, msg := x.export(call.Argument(0), argName)
	if msg != "" {
		e.throw("%s(%s): %s", method, argName, msg)
	}
	line, col := e.here()
	e.calls = append(e.calls, Call{Phase: e.phase, Method: method, Database: db, Arg: data, Line: line, Column: col})
}

// phaseName is the method being evaluated ("run()"), or "the module body".
func (e *engine) phaseName() string {
	if e.phase == "" {
		return "the module body"
	}
	return e.phase + "()"
}

// must panics on an error of setting up the runtime, which only a bug can
// cause.
func must(err error) {
	if err != nil {
		panic(err)
	}
}
