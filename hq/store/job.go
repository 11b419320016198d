package store

import (
	"context"
	"time"

	"keycab.dev/keycab"
)

// CreateJob assigns key sets to a contractor for a time window. Owners,
// admins, and site managers for key sets of their sites.
func (s *Store) CreateJob(ctx context.Context, sc Scope, j keycab.Job) (keycab.Job, error) {
	err := s.write(ctx, "create job", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("creating a job"); err != nil {
			return err
		}
		if err := t.sameOrg(j.OrgID); err != nil {
			return err
		}
		var err error
		if j, err = t.checkJob(ctx, j); err != nil {
			return err
		}
		j.ID, j.OrgID = newID("job"), t.org()
		if _, err := t.exec(ctx, `INSERT INTO jobs (org_id, id, member_id, descriptor, from_us, until_us) VALUES ($1, $2, $3, $4, $5, $6)`,
			j.OrgID, j.ID, j.MemberID, j.Descriptor, us(j.From), us(j.Until)); err != nil {
			return err
		}
		if err := t.setJobKeySets(ctx, j); err != nil {
			return err
		}
		return t.logAction(ctx, "job.create", j.ID, j.MemberID+" "+window(j.From, j.Until))
	})
	return j, err
}

// checkJob checks a new or changed job: a contractor's, a window that
// ends after it starts, and key sets the principal manages. It returns j
// with its key sets deduplicated.
func (t *tx) checkJob(ctx context.Context, j keycab.Job) (keycab.Job, error) {
	m, err := t.member(ctx, j.MemberID)
	if err != nil {
		return j, err
	}
	if m.Role != keycab.RoleContractor {
		return j, invalid("jobs are for contractors; member %s is a %s", m.ID, m.Role)
	}
	if !j.From.Before(j.Until) {
		return j, invalid("a job's window must end after it starts")
	}
	j.KeySetIDs = dedupe(j.KeySetIDs)
	if len(j.KeySetIDs) == 0 {
		return j, invalid("a job needs at least one key set")
	}
	for _, id := range j.KeySetIDs {
		k, err := t.keySet(ctx, id)
		if err != nil {
			return j, err
		}
		if !t.p.managesSite(k.SiteID) {
			return j, forbidden("assigning key set %s needs an owner, admin or the site's manager", id)
		}
	}
	return j, nil
}

// setJobKeySets replaces the key sets of job j.
func (t *tx) setJobKeySets(ctx context.Context, j keycab.Job) error {
	if _, err := t.exec(ctx, "DELETE FROM job_key_sets WHERE org_id = $1 AND job_id = $2", t.org(), j.ID); err != nil {
		return err
	}
	for _, id := range j.KeySetIDs {
		if _, err := t.exec(ctx, "INSERT INTO job_key_sets (org_id, job_id, key_set_id) VALUES ($1, $2, $3)", t.org(), j.ID, id); err != nil {
			return err
		}
	}
	return nil
}

// UpdateJob changes a job's reference, window and key sets (not its
// contractor). The principal must manage the sites of the key sets it
// had and of those it gets; a shortened window takes effect at once.
func (s *Store) UpdateJob(ctx context.Context, sc Scope, j keycab.Job) error {
	return s.write(ctx, "update job "+j.ID, sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("changing a job"); err != nil {
			return err
		}
		if err := t.sameOrg(j.OrgID); err != nil {
			return err
		}
		old, err := t.managedJob(ctx, j.ID, "changing a job")
		if err != nil {
			return err
		}
		if j.MemberID != "" && j.MemberID != old.MemberID {
			return invalid("a job cannot move to another contractor")
		}
		j.MemberID = old.MemberID
		if j, err = t.checkJob(ctx, j); err != nil {
			return err
		}
		if _, err := t.exec(ctx, "UPDATE jobs SET descriptor = $1, from_us = $2, until_us = $3 WHERE org_id = $4 AND id = $5",
			j.Descriptor, us(j.From), us(j.Until), t.org(), j.ID); err != nil {
			return err
		}
		if err := t.setJobKeySets(ctx, j); err != nil {
			return err
		}
		return t.logAction(ctx, "job.update", j.ID, j.MemberID+" "+window(j.From, j.Until))
	})
}

// managedJob loads job id if the principal may see its contractor and
// key sets (else not found) and manages the key sets' sites (else
// forbidden), for what.
func (t *tx) managedJob(ctx context.Context, id, what string) (keycab.Job, error) {
	jobs, err := t.jobs(ctx, "", id)
	if err != nil {
		return keycab.Job{}, err
	}
	if len(jobs) == 0 {
		return keycab.Job{}, notFound("job", id)
	}
	if _, err := t.member(ctx, jobs[0].MemberID); err != nil {
		return keycab.Job{}, notFound("job", id)
	}
	for _, k := range jobs[0].KeySetIDs {
		ks, err := t.keySet(ctx, k)
		if err != nil {
			return keycab.Job{}, notFound("job", id)
		}
		if !t.p.managesSite(ks.SiteID) {
			return keycab.Job{}, forbidden("%s needs an owner, admin or the site's manager", what)
		}
	}
	return jobs[0], nil
}

// ListJobs returns jobs: a contractor's own, or all those a manager or
// auditor may see (of one member when memberID is set).
func (s *Store) ListJobs(ctx context.Context, sc Scope, memberID string) ([]keycab.Job, error) {
	var out []keycab.Job
	err := s.read(ctx, "list jobs", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.requirePerson("listing jobs"); err != nil {
			return err
		}
		if t.p.role == keycab.RoleStaff || t.p.role == keycab.RoleContractor {
			memberID = t.p.member
		}
		jobs, err := t.jobs(ctx, memberID, "")
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if _, err := t.member(ctx, j.MemberID); err == nil {
				out = append(out, j)
			}
		}
		return nil
	})
	return out, err
}

func (t *tx) jobs(ctx context.Context, memberID, id string) ([]keycab.Job, error) {
	rows, err := t.query(ctx, `SELECT id, member_id, descriptor, from_us, until_us FROM jobs
		WHERE org_id = $1 AND ($2 = '' OR member_id = $2) AND ($3 = '' OR id = $3) ORDER BY from_us, id`, t.org(), memberID, id)
	if err != nil {
		return nil, err
	}
	var out []keycab.Job
	for rows.Next() {
		j := keycab.Job{OrgID: t.org()}
		var from, until int64
		if err := rows.Scan(&j.ID, &j.MemberID, &j.Descriptor, &from, &until); err != nil {
			rows.Close()
			return nil, err
		}
		j.From, j.Until = fromUS(from), fromUS(until)
		out = append(out, j)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		r, err := t.query(ctx, "SELECT key_set_id FROM job_key_sets WHERE org_id = $1 AND job_id = $2 ORDER BY key_set_id", t.org(), out[i].ID)
		if err != nil {
			return nil, err
		}
		for r.Next() {
			var k string
			if err := r.Scan(&k); err != nil {
				r.Close()
				return nil, err
			}
			out[i].KeySetIDs = append(out[i].KeySetIDs, k)
		}
		r.Close()
		if err := r.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// DeleteJob ends a job at once: its contractor loses its key sets with the
// next call.
func (s *Store) DeleteJob(ctx context.Context, sc Scope, id string) error {
	return s.write(ctx, "delete job "+id, sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("deleting a job"); err != nil {
			return err
		}
		if _, err := t.managedJob(ctx, id, "deleting a job"); err != nil {
			return err
		}
		if _, err := t.exec(ctx, "DELETE FROM jobs WHERE org_id = $1 AND id = $2", t.org(), id); err != nil {
			return err
		}
		return t.logAction(ctx, "job.delete", id, "")
	})
}

// CreateReservation holds a key set for a member over [From, Until). No
// two reservations of a key set overlap; the database enforces it (an
// exclusion constraint on PostgreSQL, triggers on SQLite), so concurrent
// requests cannot both win. Owners, admins and the site's managers
// reserve for anyone; staff for themselves at their sites.
func (s *Store) CreateReservation(ctx context.Context, sc Scope, r keycab.Reservation) (keycab.Reservation, error) {
	err := s.write(ctx, "create reservation", sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("reserving a key set"); err != nil {
			return err
		}
		if err := t.sameOrg(r.OrgID); err != nil {
			return err
		}
		k, err := t.keySet(ctx, r.KeySetID)
		if err != nil {
			return err
		}
		if r.MemberID == "" {
			r.MemberID = t.p.member
		}
		m, err := t.member(ctx, r.MemberID)
		if err != nil {
			return err
		}
		switch {
		case t.p.managesSite(k.SiteID):
		case t.p.role == keycab.RoleStaff && m.ID == t.p.member:
		default:
			return forbidden("reserving key set %s for member %s is not allowed", k.ID, m.ID)
		}
		if !m.Role.CanTakeKeys() || !m.AtSite(k.SiteID) {
			return invalid("member %s may not take key set %s", m.ID, k.ID)
		}
		if !r.From.Before(r.Until) {
			return invalid("a reservation must end after it starts")
		}
		r.ID, r.OrgID = newID("res"), t.org()
		if _, err := t.exec(ctx, `INSERT INTO reservations (org_id, id, key_set_id, member_id, from_us, until_us) VALUES ($1, $2, $3, $4, $5, $6)`,
			r.OrgID, r.ID, r.KeySetID, r.MemberID, us(r.From), us(r.Until)); err != nil {
			return err
		}
		return t.logAction(ctx, "reservation.create", r.ID, r.KeySetID)
	})
	return r, err
}

// ListReservations returns the reservations of a key set the principal
// may see, in time order.
func (s *Store) ListReservations(ctx context.Context, sc Scope, keySetID string) ([]keycab.Reservation, error) {
	var out []keycab.Reservation
	err := s.read(ctx, "list reservations of key set "+keySetID, sc, func(ctx context.Context, t *tx) error {
		if _, err := t.keySet(ctx, keySetID); err != nil {
			return err
		}
		var err error
		out, err = t.reservations(ctx, keySetID, "")
		return err
	})
	return out, err
}

func (t *tx) reservations(ctx context.Context, keySetID, id string) ([]keycab.Reservation, error) {
	rows, err := t.query(ctx, `SELECT id, key_set_id, member_id, from_us, until_us FROM reservations
		WHERE org_id = $1 AND ($2 = '' OR key_set_id = $2) AND ($3 = '' OR id = $3) ORDER BY from_us, id`, t.org(), keySetID, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []keycab.Reservation
	for rows.Next() {
		r := keycab.Reservation{OrgID: t.org()}
		var from, until int64
		if err := rows.Scan(&r.ID, &r.KeySetID, &r.MemberID, &from, &until); err != nil {
			return nil, err
		}
		r.From, r.Until = fromUS(from), fromUS(until)
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteReservation cancels a reservation: its member, or a manager of
// the key set's site.
func (s *Store) DeleteReservation(ctx context.Context, sc Scope, id string) error {
	return s.write(ctx, "delete reservation "+id, sc, func(ctx context.Context, t *tx) error {
		if err := t.p.mustWrite("cancelling a reservation"); err != nil {
			return err
		}
		rs, err := t.reservations(ctx, "", id)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return notFound("reservation", id)
		}
		k, err := t.keySet(ctx, rs[0].KeySetID)
		if err != nil {
			return notFound("reservation", id)
		}
		if rs[0].MemberID != t.p.member && !t.p.managesSite(k.SiteID) {
			return notFound("reservation", id)
		}
		if _, err := t.exec(ctx, "DELETE FROM reservations WHERE org_id = $1 AND id = $2", t.org(), id); err != nil {
			return err
		}
		return t.logAction(ctx, "reservation.delete", id, "")
	})
}

// window formats a time window for the admin log.
func window(from, until time.Time) string {
	return from.UTC().Format(time.RFC3339) + "/" + until.UTC().Format(time.RFC3339)
}
