-- Llana demo schema for PostgreSQL (current schema, normally public): the tables, columns, types and keys of Llana's
-- demo/databases/postgres.sql, aligned with the MySQL demo where the two differ (Employee.mgrid, Customer.mobile,
-- Shipper.deletedAt, NOT NULL SalesOrder.custId/shipperId, User.role default USER), plus a unique index on
-- Customer.email. Rows are inserted by DemoDatabase. Statements end with ';' at the end of a line.

DO $$ BEGIN CREATE TYPE userrole AS ENUM ('ADMIN', 'USER'); EXCEPTION WHEN duplicate_object THEN NULL; END $$;

CREATE TABLE "User" (
  "id" SERIAL PRIMARY KEY NOT NULL,
  "email" VARCHAR(255) NOT NULL,
  "password" VARCHAR(255) NOT NULL,
  "role" userrole NOT NULL DEFAULT 'USER',
  "firstName" VARCHAR(255) NULL,
  "lastName" VARCHAR(255) NULL,
  "createdAt" TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  "updatedAt" TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  "deletedAt" TIMESTAMP NULL,
  UNIQUE ("email")
);

CREATE TABLE "UserApiKey" (
  "id" SERIAL PRIMARY KEY NOT NULL,
  "userId" INT NOT NULL,
  "apiKey" VARCHAR(255) NOT NULL,
  "createdAt" TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  "updatedAt" TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  "deletedAt" TIMESTAMP NULL,
  CONSTRAINT "UserApiKeyUserId" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE RESTRICT
);

CREATE TABLE "Customer" (
  "custId" SERIAL PRIMARY KEY NOT NULL,
  "userId" INT NOT NULL,
  "companyName" VARCHAR(40) NOT NULL,
  "contactName" VARCHAR(60) NULL,
  "contactTitle" VARCHAR(30) NULL,
  "address" VARCHAR(60) NULL,
  "city" VARCHAR(15) NULL,
  "region" VARCHAR(15) NULL,
  "postalCode" VARCHAR(10) NULL,
  "country" VARCHAR(15) NULL,
  "phone" VARCHAR(24) NULL,
  "mobile" VARCHAR(24) NULL,
  "email" VARCHAR(255) NULL,
  "fax" VARCHAR(24) NULL,
  "createdAt" TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  "updatedAt" TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  "deletedAt" TIMESTAMP NULL,
  CONSTRAINT "CustomerUserId" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE RESTRICT,
  CONSTRAINT "uniqueCustomerEmail" UNIQUE ("email")
);

CREATE TABLE "Employee" (
  "employeeId" SERIAL PRIMARY KEY NOT NULL,
  "email" VARCHAR(255) NULL,
  "lastName" VARCHAR(20) NOT NULL,
  "firstName" VARCHAR(10) NOT NULL,
  "title" VARCHAR(30) NULL,
  "titleOfCourtesy" VARCHAR(25) NULL,
  "birthDate" TIMESTAMP NULL,
  "hireDate" TIMESTAMP NULL,
  "address" VARCHAR(60) NULL,
  "city" VARCHAR(15) NULL,
  "region" VARCHAR(15) NULL,
  "postalCode" VARCHAR(10) NULL,
  "country" VARCHAR(15) NULL,
  "phone" VARCHAR(24) NULL,
  "extension" VARCHAR(4) NULL,
  "photo" BYTEA NULL,
  "notes" TEXT NULL,
  "mobile" VARCHAR(30) NULL,
  "photoPath" VARCHAR(255) NULL,
  "mgrid" INT NULL,
  "createdAt" TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  "updatedAt" TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  "deletedAt" TIMESTAMP NULL
);

CREATE TABLE "Shipper" (
  "shipperId" SERIAL NOT NULL,
  "companyName" VARCHAR(40) NOT NULL,
  "phone" VARCHAR(44) NULL,
  "createdAt" TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  "updatedAt" TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  "deletedAt" TIMESTAMP NULL,
  PRIMARY KEY ("shipperId")
);

CREATE TABLE "SalesOrder" (
  "orderId" SERIAL NOT NULL,
  "custId" INT NOT NULL,
  "employeeId" INT NULL,
  "orderDate" TIMESTAMP NULL,
  "requiredDate" TIMESTAMP NULL,
  "shippedDate" TIMESTAMP NULL,
  "shipperId" INT NOT NULL,
  "freight" DECIMAL(10, 2) NULL,
  "shipName" VARCHAR(40) NULL,
  "shipAddress" VARCHAR(60) NULL,
  "shipCity" VARCHAR(15) NULL,
  "shipRegion" VARCHAR(15) NULL,
  "shipPostalCode" VARCHAR(10) NULL,
  "shipCountry" VARCHAR(15) NULL,
  "createdAt" TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  "updatedAt" TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  "deletedAt" TIMESTAMP NULL,
  PRIMARY KEY ("orderId"),
  FOREIGN KEY ("custId") REFERENCES "Customer" ("custId") ON UPDATE RESTRICT,
  FOREIGN KEY ("employeeId") REFERENCES "Employee" ("employeeId") ON DELETE SET NULL ON UPDATE RESTRICT,
  FOREIGN KEY ("shipperId") REFERENCES "Shipper" ("shipperId") ON UPDATE RESTRICT
);
