-- Proactive reminders look residents up by birth date (who turns 60 or 80 soon).
CREATE INDEX residents_birth_date ON residents(birth_date);
