-- The same store database as another system would create it on SQLite, in the style of
-- well-known public sample databases: NVARCHAR, CHARACTER, DATETIME and NUMERIC(p,s) types,
-- INTEGER keys without AUTOINCREMENT, CHECK lists for enumerations, COLLATE NOCASE for
-- case-insensitive text, JSON text for lists, a stored generated column and a view; as in
-- Chinook, a PascalCase table referencing itself whose NUMERIC(10,2) holds a REAL and an
-- INTEGER; as in Pagila, a column named like its table, stores and staff referencing each other
-- and a smallint key to an integer one. SQLite has no schemas, domains, partitions or
-- materialized views: plain tables stand in for the last.

CREATE TABLE schema_version (
    version NVARCHAR(32) PRIMARY KEY NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO schema_version (version, applied_at) VALUES ('2024.1', '2024-05-01 09:30:00');

CREATE TABLE [language] (
    [language_id] INTEGER PRIMARY KEY,
    [name] CHARACTER(20) NOT NULL,
    [last_update] DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE "film" (
    "film_id" INTEGER PRIMARY KEY,
    "title" NVARCHAR(40) NOT NULL,
    "description" TEXT,
    "release_year" INTEGER CHECK (release_year >= 1901 AND release_year <= 2155),
    "language_id" INTEGER NOT NULL REFERENCES "language" ("language_id") ON DELETE RESTRICT,
    "rental_rate" NUMERIC(4,2) NOT NULL DEFAULT 4.99,
    "length" SMALLINT CHECK (length > 0),
    "rating" TEXT DEFAULT 'G' CHECK (rating IN ('G', 'PG', 'PG-13', 'R', 'NC-17')),
    "special_features" TEXT,
    "fulltext" TEXT NOT NULL DEFAULT '',
    "last_update" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
-- The full-text column is kept by a trigger, as PostgreSQL's tsvector_update_trigger does.
CREATE TRIGGER film_fulltext_insert AFTER INSERT ON film BEGIN
    UPDATE film SET fulltext = lower(NEW.title || ' ' || coalesce(NEW.description, ''))
    WHERE film_id = NEW.film_id;
END;

CREATE TABLE customer (
    customer_id INTEGER PRIMARY KEY,
    email TEXT COLLATE NOCASE UNIQUE,
    first_name NVARCHAR(45) NOT NULL,
    last_name NVARCHAR(45) NOT NULL,
    full_name TEXT GENERATED ALWAYS AS (first_name || ' ' || last_name) STORED,
    active BOOLEAN NOT NULL DEFAULT 1,
    favourite_films TEXT NOT NULL DEFAULT '[]',
    country_code CHARACTER(2),
    "postal code" NVARCHAR(10)
);

CREATE TABLE payment (
    payment_id INTEGER NOT NULL,
    customer_id INTEGER NOT NULL REFERENCES customer (customer_id) ON DELETE CASCADE,
    amount NUMERIC(5,2) NOT NULL,
    payment_date TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (payment_date, payment_id)
);

CREATE TABLE country (
    country_id INTEGER PRIMARY KEY,
    country TEXT NOT NULL,
    last_update TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE store (
    store_id INTEGER PRIMARY KEY,
    manager_staff_id INTEGER NOT NULL REFERENCES staff (staff_id),
    country_id INTEGER NOT NULL REFERENCES country (country_id)
);

CREATE TABLE staff (
    staff_id INTEGER PRIMARY KEY,
    first_name NVARCHAR(45) NOT NULL,
    store_id SMALLINT NOT NULL REFERENCES store (store_id)
);

CREATE TABLE [Employee]
(
    [EmployeeId] INTEGER  NOT NULL,
    [LastName] NVARCHAR(20)  NOT NULL,
    [ReportsTo] INTEGER,
    [HireDate] DATETIME,
    [Salary] NUMERIC(10,2),
    CONSTRAINT [PK_Employee] PRIMARY KEY  ([EmployeeId]),
    FOREIGN KEY ([ReportsTo]) REFERENCES [Employee] ([EmployeeId])
		ON DELETE NO ACTION ON UPDATE NO ACTION
);

CREATE VIEW film_list AS
    SELECT f.film_id, f.title, f.length, l.name AS language
    FROM film f JOIN language l ON l.language_id = f.language_id;

CREATE TABLE customer_total (
    customer_id INTEGER,
    total NUMERIC(10,2)
);

CREATE TABLE film_rate_total (
    total TEXT
);

INSERT INTO language (name, last_update) VALUES
    ('English', '2024-01-01 10:00:00'),
    ('Italian', '2024-01-02 11:30:00');
INSERT INTO film (title, description, release_year, language_id, rental_rate, length, rating,
                  special_features, last_update) VALUES
    ('ACADEMY DINOSAUR', 'An epic drama of a feminist and a mad scientist', 2006, 1, '0.99', 86,
     'PG', '["Deleted Scenes","Behind the Scenes"]', '2024-02-01 08:00:00'),
    ('ACE GOLDFINGER', 'An astounding epistle of a database administrator', 2006, 1, '4.99', 48,
     'G', '["Trailers","Deleted Scenes"]', '2024-02-01 08:00:01'),
    ('ADAPTATION HOLES', 'An astounding reflection of a lumberjack and a car', 2007, 2, '2.99',
     NULL, 'NC-17', '["Trailers"]', '2024-02-01 08:00:02'),
    ('AFFAIR PREJUDICE', NULL, NULL, 2, '2.99', 117, NULL, NULL, '2024-02-01 08:00:03');
INSERT INTO customer (email, first_name, last_name, active, favourite_films, country_code,
                      "postal code") VALUES
    ('Mary.Smith@example.com', 'Mary', 'Smith', 1, '[1,3]', 'US', '10001'),
    ('patricia.johnson@example.com', 'Patricia', 'Johnson', 0, '[]', 'GB', 'SW1A 1AA'),
    (NULL, 'Linda', 'Williams', 1, '[2]', NULL, NULL);
INSERT INTO payment (payment_id, customer_id, amount, payment_date) VALUES
    (1, 1, '2.99', '2024-03-05 10:15:00'),
    (2, 1, '0.99', '2025-01-15 08:00:00.500'),
    (3, 2, '5.99', '2023-12-31 23:59:59'),
    (4, 3, '4.99', '2025-06-01 10:00:00');
INSERT INTO customer_total (customer_id, total)
    SELECT customer_id, sum(amount) FROM payment GROUP BY customer_id;
INSERT INTO film_rate_total (total) SELECT printf('%.2f', sum(rental_rate)) FROM film;
INSERT INTO country (country) VALUES ('Italy'), ('Japan');
-- Each of the two tables references the other: checked when the rows are committed.
BEGIN;
PRAGMA defer_foreign_keys = ON;
INSERT INTO store (manager_staff_id, country_id) VALUES (1, 1), (2, 2);
INSERT INTO staff (first_name, store_id) VALUES ('Mike', 1), ('Jon', 2), ('Ann', 1);
COMMIT;
INSERT INTO [Employee] ([EmployeeId], [LastName], [ReportsTo], [HireDate], [Salary]) VALUES
    (1, 'Adams', NULL, '2002-08-14 00:00:00', 1.98),
    (2, 'Edwards', 1, '2002-05-01 00:00:00', 2),
    (3, 'Peacock', 2, '2002-04-01 00:00:00', NULL);
