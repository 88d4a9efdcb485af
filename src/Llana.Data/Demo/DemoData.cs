namespace Llana.Data.Demo;

/// One table's sample rows, in column order. `PostgresTypes` names the columns whose parameter needs a cast there
/// (user-defined enum types do not accept a text parameter).
internal sealed record DemoTable(string Name, string IdColumn, string[] Columns, IReadOnlyList<object?[]> Rows)
{
    public IReadOnlyDictionary<string, string> PostgresTypes { get; init; } = new Dictionary<string, string>();
}

/// Our own sample rows for the demo schema (invented people, companies and addresses), shared by every dialect.
internal static class DemoData
{
    /// bcrypt (`$2a$`, cost 10) of "test" for the two demo users, made and checked with BCrypt.Net-Next (which Llana.Data
    /// does not reference, so the hash is a constant rather than computed at seed time).
    public const string AdminPasswordHash = "$2a$10$EPgtGNF3nG01qlz/mtaHP.UE7rZB1eVdsnYY/J/YWJS1gXS0SdtVu";
    public const string UserPasswordHash = "$2a$10$Gg15NsXHhVJ6PgcTmmT/xujaDaMvcnx/zgkxN.BQo9MPF2Wm7jJpS";

    public const string AdminEmail = "test@test.com";
    public const string UserEmail = "user@test.com";
    public const string AdminApiKey = "Ex@mp1eS$Cu7eAp!K3y";
    public const string UserApiKey = "Us3r-Ap1-K3y-2b7e-Demo";

    private static readonly DateTime Seeded = new(2025, 1, 2, 9, 30, 0);

    public static DemoTable Users { get; } = new(
        "User", "id",
        ["id", "email", "password", "role", "firstName", "lastName", "createdAt", "updatedAt"],
        [
            [1, AdminEmail, AdminPasswordHash, "ADMIN", "Alex", "Morgan", Seeded, Seeded],
            [2, UserEmail, UserPasswordHash, "USER", "Sam", "Taylor", Seeded, Seeded],
        ])
    {
        PostgresTypes = new Dictionary<string, string> { ["role"] = "userrole" },
    };

    public static DemoTable UserApiKeys { get; } = new(
        "UserApiKey", "id",
        ["id", "userId", "apiKey", "createdAt", "updatedAt"],
        [
            [1, 1, AdminApiKey, Seeded, Seeded],
            [2, 2, UserApiKey, Seeded, Seeded],
        ]);

    public static DemoTable Customers { get; } = new(
        "Customer", "custId",
        ["custId", "userId", "companyName", "contactName", "contactTitle", "address", "city", "region", "postalCode", "country", "phone", "mobile", "email", "fax"],
        [
            [1, 1, "Harbor Lights Trading", "Nora Lindqvist", "Owner", "14 Quayside Walk", "Gothenburg", null, "411 04", "Sweden", "+46 31 555 0142", "+46 70 555 0142", "nora@harborlights.example", null],
            [2, 1, "Copper Kettle Foods", "Tomás Ibarra", "Purchasing Manager", "Calle del Olivo 22", "Seville", "Andalusia", "41004", "Spain", "+34 954 555 210", null, "tomas@copperkettle.example", "+34 954 555 211"],
            [3, 1, "Maple Ridge Outfitters", "Claire Dubois", "Sales Agent", "880 Cedar Lane", "Calgary", "AB", "T2P 1J9", "Canada", "(403) 555-0188", "(403) 555-0189", "claire@mapleridge.example", null],
            [4, 1, "Bluewater Provisions", "Hiroshi Tanaka", "Owner", "3-9 Minato Dori", "Yokohama", "Kanagawa", "231-0002", "Japan", "+81 45 555 0110", null, "h.tanaka@bluewater.example", "+81 45 555 0111"],
            [5, 1, "Sunfield Grocers", "Priya Raman", "Accounting Manager", "52 Mill Road", "Leeds", null, "LS1 4AB", "UK", "+44 113 555 0167", "+44 7700 900167", "priya@sunfield.example", null],
            [6, 1, "Alpenrose Delikatessen", "Lukas Brandt", "Marketing Manager", "Bergstrasse 17", "Innsbruck", "Tyrol", "6020", "Austria", "+43 512 555 301", null, "lukas@alpenrose.example", "+43 512 555 302"],
            [7, 1, "Casa Verde Importers", "Beatriz Costa", "Owner", "Rua das Flores 88", "Porto", null, "4050-262", "Portugal", "+351 22 555 0193", "+351 91 555 0193", "beatriz@casaverde.example", null],
            [8, 1, "Prairie Wind Supply", "Marcus Webb", "Order Administrator", "1204 Grand Ave", "Des Moines", "IA", "50309", "USA", "(515) 555-0134", null, "marcus@prairiewind.example", "(515) 555-0135"],
            [9, 1, "Le Petit Comptoir", "Élodie Marchand", "Sales Representative", "9 rue du Marché", "Lyon", null, "69002", "France", "+33 4 55 55 01 20", "+33 6 55 55 01 20", "elodie@petitcomptoir.example", null],
            [10, 1, "Southern Cross Traders", "Liam O'Connor", "Sales Manager", "45 Harbour St", "Hobart", "TAS", "7000", "Australia", "+61 3 5550 1177", "+61 412 555 177", null, null],
            [11, 2, "Golden Fjord Seafood", "Ingrid Solberg", "Owner", "Bryggen 5", "Bergen", null, "5003", "Norway", "+47 55 55 01 50", null, "ingrid@goldenfjord.example", null],
            [12, 2, "Tierra Alta Cafe", "Diego Herrera", "Purchasing Agent", "Av. Reforma 301", "Mexico City", "CDMX", "06500", "Mexico", "+52 55 5550 0148", "+52 55 5550 0149", "diego@tierraalta.example", null],
            [13, 2, "Lotus Garden Market", "Mei Chen", "Marketing Assistant", "77 Orchard Rd", "Singapore", null, "238839", "Singapore", "+65 6555 0123", null, "mei@lotusgarden.example", "+65 6555 0124"],
        ]);

    public static DemoTable Employees { get; } = new(
        "Employee", "employeeId",
        ["employeeId", "lastName", "firstName", "title", "titleOfCourtesy", "birthDate", "hireDate", "address", "city", "region", "postalCode", "country", "phone", "extension", "mobile", "email", "notes", "mgrid"],
        [
            [1, "Okafor", "Grace", "CEO", "Ms.", D(1969, 4, 12), D(2011, 2, 1), "210 Lakeview Terrace", "Chicago", "IL", "60601", "USA", "(312) 555-0100", "100", "(312) 555-0150", "grace.okafor@llana.example", "Founded the company after a decade in logistics.", null],
            [2, "Brennan", "Patrick", "Vice President, Sales", "Mr.", D(1974, 9, 3), D(2012, 6, 15), "88 Wacker Dr", "Chicago", "IL", "60606", "USA", "(312) 555-0101", "101", null, "patrick.brennan@llana.example", null, 1],
            [3, "Nakamura", "Yuki", "Sales Manager", "Ms.", D(1981, 1, 22), D(2014, 3, 10), "1500 Pine St", "Seattle", "WA", "98101", "USA", "(206) 555-0102", "210", "(206) 555-0152", "yuki.nakamura@llana.example", "Runs the West Coast team.", 2],
            [4, "Schulz", "Henrik", "Sales Manager", "Mr.", D(1978, 11, 30), D(2015, 8, 1), "12 Curtain Road", "London", null, "EC2A 3AY", "UK", "+44 20 5550 0103", "310", null, "henrik.schulz@llana.example", "Runs the European team.", 2],
            [5, "Mensah", "Kofi", "Sales Representative", "Mr.", D(1988, 7, 14), D(2017, 1, 9), "2201 Eastlake Ave", "Seattle", "WA", "98102", "USA", "(206) 555-0104", "211", "(206) 555-0154", "kofi.mensah@llana.example", null, 3],
            [6, "Alvarez", "Sofia", "Sales Representative", "Ms.", D(1990, 2, 5), D(2018, 4, 23), "410 Queen Anne Ave", "Seattle", "WA", "98109", "USA", "(206) 555-0105", "212", null, "sofia.alvarez@llana.example", "Speaks Spanish and Portuguese.", 3],
            [7, "Kowalski", "Anna", "Sales Representative", "Mrs.", D(1985, 12, 19), D(2019, 9, 2), "7 Wilton Crescent", "London", null, "SW1X 8RN", "UK", "+44 20 5550 0106", "311", "+44 7700 900106", "anna.kowalski@llana.example", null, 4],
            [8, "Fitzgerald", "Owen", "Sales Representative", "Mr.", D(1992, 5, 27), D(2020, 11, 16), "31 Camden High St", "London", null, "NW1 7JE", "UK", "+44 20 5550 0107", "312", null, "owen.fitzgerald@llana.example", null, 4],
            [9, "Haddad", "Leila", "Inside Sales Coordinator", "Dr.", D(1983, 3, 8), D(2016, 5, 30), "600 N Michigan Ave", "Chicago", "IL", "60611", "USA", "(312) 555-0108", "102", "(312) 555-0158", "leila.haddad@llana.example", "Coordinates order entry for all teams.", 2],
            [10, "Varga", "Bence", "Sales Representative", "Mr.", D(1994, 10, 11), D(2022, 2, 14), "19 Old Street", "London", null, "EC1V 9HL", "UK", "+44 20 5550 0109", "313", null, "bence.varga@llana.example", null, 4],
        ]);

    public static DemoTable Shippers { get; } = new(
        "Shipper", "shipperId",
        ["shipperId", "companyName", "phone"],
        [
            [1, "Swift Parcel Co.", "(503) 555-0190"],
            [2, "Tidewater Freight", "(425) 555-0191"],
            [3, "Skyline Air Cargo", "(415) 555-0192"],
        ]);

    // orderId, custId, employeeId, orderDate, days until required, days until shipped (null: not shipped yet), shipperId, freight.
    // Ship-to fields come from the customer, as an order desk would fill them in.
    private static readonly (int Id, int Cust, int? Employee, DateTime Ordered, int RequiredIn, int? ShippedIn, int Shipper, decimal Freight)[] Orders =
    [
        (1, 1, 5, D(2025, 1, 6), 28, 3, 1, 32.38m),
        (2, 2, 6, D(2025, 1, 8), 28, 5, 2, 11.61m),
        (3, 3, 3, D(2025, 1, 13), 14, 2, 3, 65.83m),
        (4, 4, 7, D(2025, 1, 15), 28, 9, 2, 41.34m),
        (5, 5, 8, D(2025, 1, 20), 28, 4, 1, 51.30m),
        (6, 6, 4, D(2025, 1, 22), 42, 7, 2, 58.17m),
        (7, 7, 6, D(2025, 1, 27), 28, 3, 3, 22.98m),
        (8, 8, 5, D(2025, 2, 3), 28, 6, 1, 148.33m),
        (9, 9, 10, D(2025, 2, 5), 14, 1, 2, 13.97m),
        (10, 10, 9, D(2025, 2, 10), 28, 11, 3, 81.91m),
        (11, 11, null, D(2025, 2, 12), 28, 4, 1, 140.51m),
        (12, 12, 6, D(2025, 2, 17), 28, 2, 2, 3.25m),
        (13, 13, 3, D(2025, 2, 19), 42, 8, 3, 55.09m),
        (14, 1, 5, D(2025, 2, 24), 28, 5, 2, 3.05m),
        (15, 2, 6, D(2025, 3, 3), 28, 3, 1, 48.29m),
        (16, 3, 3, D(2025, 3, 5), 14, 6, 3, 146.06m),
        (17, 4, 7, D(2025, 3, 10), 28, 2, 1, 3.67m),
        (18, 5, 8, D(2025, 3, 12), 28, 10, 2, 55.28m),
        (19, 6, 4, D(2025, 3, 17), 28, 4, 3, 25.73m),
        (20, 8, 9, D(2025, 3, 19), 28, 7, 1, 208.58m),
        (21, 9, 10, D(2025, 3, 24), 14, 3, 2, 66.29m),
        (22, 11, 2, D(2025, 3, 26), 28, 5, 3, 4.56m),
        (23, 12, null, D(2025, 3, 31), 28, 2, 1, 136.54m),
        (24, 1, 5, D(2025, 4, 2), 28, 6, 2, 98.03m),
        (25, 7, 7, D(2025, 4, 7), 42, null, 3, 76.07m),
        (26, 10, 9, D(2025, 4, 9), 28, null, 1, 6.01m),
        (27, 13, 3, D(2025, 4, 14), 28, null, 2, 26.93m),
        (28, 2, 6, D(2025, 4, 16), 14, null, 3, 0.75m),
    ];

    public static DemoTable SalesOrders { get; } = new(
        "SalesOrder", "orderId",
        ["orderId", "custId", "employeeId", "orderDate", "requiredDate", "shippedDate", "shipperId", "freight", "shipName", "shipAddress", "shipCity", "shipRegion", "shipPostalCode", "shipCountry"],
        [.. Orders.Select(o =>
        {
            var c = Customers.Rows[o.Cust - 1];
            return new object?[]
            {
                o.Id, o.Cust, o.Employee, o.Ordered, o.Ordered.AddDays(o.RequiredIn),
                o.ShippedIn is { } s ? o.Ordered.AddDays(s) : null, o.Shipper, o.Freight,
                c[2], c[5], c[6], c[7], c[8], c[9],
            };
        })]);

    /// In insertion order (parents before children).
    public static IReadOnlyList<DemoTable> Tables { get; } = [Users, UserApiKeys, Customers, Employees, Shippers, SalesOrders];

    private static DateTime D(int year, int month, int day) => new(year, month, day);
}
