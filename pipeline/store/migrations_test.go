package store

import (
	"testing"
	"testing/fstest"
)

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name    string
		files   fstest.MapFS
		want    []int
		wantErr bool
	}{
		{name: "in version order", files: fstest.MapFS{"m/010_b.sql": file("B"), "m/002_a.sql": file("A"), "m/README": file("x")}, want: []int{2, 10}},
		{name: "none", files: fstest.MapFS{}, want: nil},
		{name: "no version", files: fstest.MapFS{"m/init.sql": file("")}, wantErr: true},
		{name: "version zero", files: fstest.MapFS{"m/000_a.sql": file("")}, wantErr: true},
		{name: "two of one version", files: fstest.MapFS{"m/001_a.sql": file(""), "m/1_b.sql": file("")}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := LoadMigrations(tt.files, "m")
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if len(ms) != len(tt.want) {
				t.Fatalf("got %d migrations, want %d", len(ms), len(tt.want))
			}
			for i, m := range ms {
				if m.Version != tt.want[i] {
					t.Errorf("migration %d is version %d, want %d", i, m.Version, tt.want[i])
				}
			}
			if len(ms) == 2 && (ms[0].Name != "002_a" || ms[0].SQL != "A") {
				t.Errorf("first migration %+v, want 002_a with its SQL", ms[0])
			}
		})
	}
}
