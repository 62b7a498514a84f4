from product_augment.data.sources import model_licence, parse_catalog

BY = ('<h3>Released under <a href="https://creativecommons.org/licenses/by/3.0/">'
      'Creative Commons Attribution 3.0</a></h3>')
ZERO = '<h3>Released under <a href="https://creativecommons.org/publicdomain/zero/1.0/">Creative Commons Zero</a></h3>'


def test_model_licence_file_overrides_library(tmp_path):
    by, zero, none = (tmp_path / n for n in ("by", "zero", "none"))
    for d in (by, zero, none):
        d.mkdir()
    (by / "89509 - LICENSE.html").write_text(BY)
    (zero / "1 - LICENSE.html").write_text(ZERO)
    (none / "model.obj").write_text("v 0 0 0\n")
    assert model_licence(by, "CC0-1.0") == "CC-BY-3.0"
    assert model_licence(zero, "CC-BY-3.0") == "CC0-1.0"
    assert model_licence(none, "CC-BY-3.0-US") == "CC-BY-3.0-US"
    assert model_licence(tmp_path / "missing", "CC0-1.0") == "CC0-1.0"


def test_parse_catalog_records_each_models_licence(tmp_path):
    lib = tmp_path / "BlendSwap-CC-0"
    for name, text in (("sofa", BY), ("cup", ZERO)):
        (lib / name).mkdir(parents=True)
        (lib / name / f"{name}.obj").write_text("v 0 0 0\n")
        (lib / name / "LICENSE.html").write_text(text)
    (lib / "PluginFurnitureCatalog.properties").write_text(
        "id#1=Blend Swap CC-0#winchesterSofa\nname#1=Winchester sofa\nmodel#1=/sofa/sofa.obj\n"
        "id#2=Blend Swap CC-0#cup\nname#2=Cup\nmodel#2=/cup/cup.obj\n")
    entries = {e.name: e for e in parse_catalog(lib)}
    assert entries["Winchester sofa"].licence == "CC-BY-3.0"
    assert entries["Cup"].licence == "CC0-1.0"
    assert entries["Winchester sofa"].attribution.endswith("CC-BY-3.0")


def test_licence_in_model_folder_needs_a_file(tmp_path):
    from product_augment.data.sources import licence_in_model_folder

    (tmp_path / "LICENSE.html").write_text(ZERO)
    assert licence_in_model_folder(tmp_path) == "CC0-1.0"
    (tmp_path / "none").mkdir()
    assert licence_in_model_folder(tmp_path / "none") is None
    assert licence_in_model_folder(tmp_path / "missing") is None
