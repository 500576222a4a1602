package hexdigest

import (
	"strings"
	"testing"
)

func TestIsSHA256(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{strings.Repeat("0123456789abcdef", 4), true},
		{strings.Repeat("0123456789ABCDEF", 4), false},
		{strings.Repeat("a", 63), false},
		{strings.Repeat("a", 65), false},
		{strings.Repeat("a", 63) + "g", false},
		{strings.Repeat("a", 63) + "/", false},
		{strings.Repeat("a", 63) + ":", false},
		{strings.Repeat("a", 63) + "`", false},
		{"", false},
	} {
		if got := IsSHA256(tc.s); got != tc.want {
			t.Errorf("IsSHA256(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}
