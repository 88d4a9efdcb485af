using System.Data.Common;

namespace Llana.Data.Schema;

/// Reads every table of the connected database (system `_llana_*` tables included) with columns,
/// keys and relations in both directions. One implementation per dialect.
public interface ISchemaReader
{
    Task<IReadOnlyList<TableSchema>> ReadAsync(DbConnection connection, CancellationToken cancellationToken);
}
