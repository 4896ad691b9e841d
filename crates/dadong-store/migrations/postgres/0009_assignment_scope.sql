-- A cadre's sign-in scope is now read from both of its sources: the enterprises given to the
-- cadre directly (user_assignments) and the cadre's service assignments. Service assignments
-- used to copy their enterprise into user_assignments, and ending one deleted the copy, even
-- where the enterprise had been given directly too. The copies go: the service assignment
-- itself now carries that scope, and user_assignments keeps direct grants alone.
DELETE FROM user_assignments
WHERE EXISTS (
    SELECT 1 FROM service_assignments s
    WHERE s.user_id = user_assignments.user_id
      AND s.kind = 'enterprise'
      AND s.duty = 'cadre'
      AND s.target = user_assignments.company_code
);
