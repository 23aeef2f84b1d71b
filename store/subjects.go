package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Subject is a reusable description of who performs an action ("a panda",
// "our mascot in a red cape").
type Subject struct {
	ID      int64
	Name    string // unique label shown in the gallery and on contact sheets
	Prompt  string // text put before the action trigger
	Created time.Time
}

// CreateSubject adds a subject.
func (l *Library) CreateSubject(ctx context.Context, s Subject) (Subject, error) {
	s.Name = strings.TrimSpace(s.Name)
	if s.Name == "" {
		return s, errors.New("create subject: empty name")
	}
	if s.Prompt == "" {
		s.Prompt = s.Name
	}
	s.Created = fromMillis(now())
	var err error
	s.ID, err = l.insert(ctx, fmt.Sprintf("subject %q", s.Name), `INSERT INTO subjects(name, prompt, created) VALUES(?, ?, ?)`,
		s.Name, s.Prompt, s.Created.UnixMilli())
	return s, err
}

const subjectCols = `id, name, prompt, created`

func scanSubject(sc scanner) (Subject, error) {
	var s Subject
	var created int64
	err := sc.Scan(&s.ID, &s.Name, &s.Prompt, &created)
	s.Created = fromMillis(created)
	return s, err
}

// Subject returns the subject with the given id.
func (l *Library) Subject(ctx context.Context, id int64) (Subject, error) {
	s, err := scanSubject(l.db.QueryRowContext(ctx, `SELECT `+subjectCols+` FROM subjects WHERE id = ?`, id))
	return s, notFound(err, "subject", id)
}

// Subjects lists all subjects by name.
func (l *Library) Subjects(ctx context.Context) ([]Subject, error) {
	return queryAll(ctx, l.db, scanSubject, `SELECT `+subjectCols+` FROM subjects ORDER BY name`)
}

// UpdateSubject saves Name and Prompt of an existing subject.
func (l *Library) UpdateSubject(ctx context.Context, s Subject) error {
	return l.update(ctx, "subject", s.ID, `UPDATE subjects SET name = ?, prompt = ? WHERE id = ?`, strings.TrimSpace(s.Name), s.Prompt, s.ID)
}

// DeleteSubject removes a subject; its generations stay, unlinked.
func (l *Library) DeleteSubject(ctx context.Context, id int64) error {
	return l.deleteRow(ctx, "subject", `DELETE FROM subjects WHERE id = ?`, id)
}
