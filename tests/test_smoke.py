def test_login_page_renders_in_spanish_by_default(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert "Log in" in response.get_data(as_text=True) or "Iniciar" in response.get_data(as_text=True)
