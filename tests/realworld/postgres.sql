-- A sample store database as another system would create it on PostgreSQL, in the style of
-- well-known public sample databases: its own schema, an enum, domains (one with a CHECK),
-- identity and sequence keys, fixed-length and case-insensitive text, arrays, a full-text
-- column kept by a trigger, a stored generated column, a partitioned table, a view and a
-- materialized view. Written by hand, not by tenantapi's DDL.

CREATE SCHEMA store;
CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public;
SET search_path TO store, public;

CREATE TYPE mpaa_rating AS ENUM ('G', 'PG', 'PG-13', 'R', 'NC-17');
CREATE DOMAIN year AS integer CONSTRAINT year_check CHECK (VALUE >= 1901 AND VALUE <= 2155);
CREATE DOMAIN short_name AS varchar(40) NOT NULL;

CREATE TABLE schema_version (
    version varchar(32) PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO schema_version (version, applied_at) VALUES ('2024.1', '2024-05-01 09:30:00+00');

CREATE TABLE language (
    language_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name char(20) NOT NULL,
    last_update timestamp NOT NULL DEFAULT now()
);

CREATE SEQUENCE film_film_id_seq;
CREATE TABLE film (
    film_id integer NOT NULL DEFAULT nextval('film_film_id_seq') PRIMARY KEY,
    title short_name,
    description text,
    release_year year,
    language_id integer NOT NULL REFERENCES language (language_id) ON DELETE RESTRICT,
    rental_rate numeric(4, 2) NOT NULL DEFAULT 4.99,
    length smallint CHECK (length > 0),
    rating mpaa_rating DEFAULT 'G',
    special_features text[],
    fulltext tsvector,
    last_update timestamp NOT NULL DEFAULT now()
);
ALTER SEQUENCE film_film_id_seq OWNED BY film.film_id;
CREATE TRIGGER film_fulltext BEFORE INSERT OR UPDATE ON film FOR EACH ROW
    EXECUTE FUNCTION tsvector_update_trigger(fulltext, 'pg_catalog.english', title, description);

CREATE TABLE customer (
    customer_id serial PRIMARY KEY,
    email citext UNIQUE,
    first_name varchar(45) NOT NULL,
    last_name varchar(45) NOT NULL,
    full_name text GENERATED ALWAYS AS (first_name || ' ' || last_name) STORED,
    active boolean NOT NULL DEFAULT true,
    favourite_films integer[] NOT NULL DEFAULT '{}',
    country_code char(2),
    "postal code" varchar(10)
);

CREATE TABLE payment (
    payment_id serial,
    customer_id integer NOT NULL REFERENCES customer (customer_id) ON DELETE CASCADE,
    amount numeric(5, 2) NOT NULL,
    payment_date date NOT NULL,
    PRIMARY KEY (payment_id, payment_date)
) PARTITION BY RANGE (payment_date);
CREATE TABLE payment_2024 PARTITION OF payment FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE payment_2025 PARTITION OF payment FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE payment_other PARTITION OF payment DEFAULT;

CREATE VIEW film_list AS
    SELECT f.film_id, f.title, f.length, l.name AS language
    FROM film f JOIN language l ON l.language_id = f.language_id;

CREATE MATERIALIZED VIEW customer_total AS
    SELECT customer_id, CAST(sum(amount) AS numeric(10, 2)) AS total
    FROM payment GROUP BY customer_id;

INSERT INTO language (name, last_update) VALUES
    ('English', '2024-01-01 10:00:00'),
    ('Italian', '2024-01-02 11:30:00');
INSERT INTO film (title, description, release_year, language_id, rental_rate, length, rating,
                  special_features, last_update) VALUES
    ('ACADEMY DINOSAUR', 'An epic drama of a feminist and a mad scientist', 2006, 1, 0.99, 86,
     'PG', '{"Deleted Scenes","Behind the Scenes"}', '2024-02-01 08:00:00'),
    ('ACE GOLDFINGER', 'An astounding epistle of a database administrator', 2006, 1, 4.99, 48,
     'G', '{Trailers,"Deleted Scenes"}', '2024-02-01 08:00:01'),
    ('ADAPTATION HOLES', 'An astounding reflection of a lumberjack and a car', 2007, 2, 2.99,
     NULL, 'NC-17', '{Trailers}', '2024-02-01 08:00:02'),
    ('AFFAIR PREJUDICE', NULL, NULL, 2, 2.99, 117, NULL, NULL, '2024-02-01 08:00:03');
INSERT INTO customer (email, first_name, last_name, active, favourite_films, country_code,
                      "postal code") VALUES
    ('Mary.Smith@example.com', 'Mary', 'Smith', true, '{1,3}', 'US', '10001'),
    ('patricia.johnson@example.com', 'Patricia', 'Johnson', false, '{}', 'GB', 'SW1A 1AA'),
    (NULL, 'Linda', 'Williams', true, '{2}', NULL, NULL);
INSERT INTO payment (customer_id, amount, payment_date) VALUES
    (1, 2.99, '2024-03-05'),
    (1, 0.99, '2025-01-15'),
    (2, 5.99, '2023-12-31'),
    (3, 4.99, '2025-06-01');
REFRESH MATERIALIZED VIEW customer_total;
