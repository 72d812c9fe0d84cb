"""The example contract of the README's template language section (docs/templates/contract.docx).

`python -m cli.example_template` writes the file; `example_trigger()` is data
it renders with. It shows every construct: tags, nested fields, a table-row
loop over line items, a paragraph loop, a conditional, the locale filters
and an image from a data-URI field.
"""
import io
import sys
from pathlib import Path

import docx

PATH = Path(__file__).resolve().parent.parent / "docs" / "templates" / "contract.docx"
#: a 1x1 transparent PNG
PIXEL = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA"
         "60e6kgAAAABJRU5ErkJggg==")


def example_contract():
    """Return the example .docx template's bytes."""
    document = docx.Document()
    document.add_paragraph("{{ logo|image(width_mm=30) }}")
    document.add_heading("Contrato de Prestação de Serviços", level=1)
    document.add_paragraph("Contratante: {{ client_name }}, representada por {{ contact.name }} "
                           "<{{ contact.email }}>.")
    document.add_paragraph("Endereço: {{ address }}")
    table = document.add_table(rows=4, cols=3)
    for row, cells in zip(table.rows, [
            ["Item", "Qtd.", "Valor"],
            ["{%tr for item in items %}", "", ""],
            ["{{ item.description }}", "{{ item.qty }}", "{{ item.price|currency }}"],
            ["{%tr endfor %}", "", ""]]):
        for cell, text in zip(row.cells, cells):
            cell.text = text
    document.add_paragraph("Total: {{ total|currency }} ({{ total|words(to='currency') }}).")
    document.add_paragraph("{%p if discount is defined and discount %}")
    document.add_paragraph("Desconto concedido: {{ discount|percent }}.")
    document.add_paragraph("{%p endif %}")
    document.add_paragraph("{%p for clause in clauses %}")
    document.add_paragraph("Cláusula {{ loop.index }}: {{ clause }}")
    document.add_paragraph("{%p endfor %}")
    document.add_paragraph("São Paulo, {{ signed_on|date }}.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def example_trigger():
    return {
        "client_name": 'Johnson & Johnson <Legal> "Brasil"', "address": "Rua Augusta, 1500\nSão Paulo - SP",
        "contact": {"name": "Ana Souza", "email": "ana@jnj.example"},
        "items": [{"description": "Implantação", "qty": 1, "price": "1500.00"},
                  {"description": "Licenças anuais", "qty": 10, "price": "1234.56"}],
        "total": "13845.60", "discount": 0.05, "clauses": ["Objeto", "Pagamento em 30 dias"],
        "signed_on": "2026-12-01", "logo": PIXEL,
    }


def template_bytes():
    """The committed example, or the same template built afresh when docs/ is not installed."""
    return PATH.read_bytes() if PATH.exists() else example_contract()


def demo_trigger():
    """The demo's trigger data: the sample deal, filled with what the example template shows."""
    from cli import sample

    return {**sample.trigger_data(), **{k: v for k, v in example_trigger().items() if k != "contact"}}


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(example_contract())
    print(f"wrote {target}")
