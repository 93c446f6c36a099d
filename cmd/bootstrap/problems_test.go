package main

import (
	"testing"

	"github.com/srvthreds/bootstrap/profiles"
)

func TestProblemSummary(t *testing.T) {
	p := func(profile string) profiles.Problem { return profiles.Problem{Profile: profile, Msg: "m"} }
	tests := []struct {
		name string
		err  profiles.ValidationError
		want string
	}{
		{"one", profiles.ValidationError{Problems: []profiles.Problem{p("a")}}, "1 problem in 1 profile"},
		{"three_in_two", profiles.ValidationError{Problems: []profiles.Problem{p("a"), p("a"), p("b")}}, "3 problems in 2 profiles"},
		{"no_profile_known", profiles.ValidationError{Problems: []profiles.Problem{p(""), p("")}}, "2 problems"},
		{"more_than_listed", profiles.ValidationError{Problems: []profiles.Problem{p("a")}, More: 4},
			"5 problems in 1 profile (4 not listed, see --max-problems)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := problemSummary(&tc.err); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
